#include "peer_text.hpp"

namespace rancher_ecr {

std::string_view json_kind_name(boost::json::kind value_kind) {
    using kind = boost::json::kind;
    switch (value_kind) {
        case kind::null: return "null";
        case kind::bool_: return "a boolean";
        case kind::int64:
        case kind::uint64:
        case kind::double_: return "a number";
        case kind::string: return "a string";
        case kind::array: return "an array";
        case kind::object: return "an object";
    }
    return "an unknown JSON value";
}

std::string sanitised_excerpt(std::string_view text, std::size_t max_size) {
    std::string out;
    bool pending_space = false;
    for (char c : text) {
        auto const byte = static_cast<unsigned char>(c);
        if (byte == ' ' || byte == '\t' || byte == '\r' || byte == '\n') {
            pending_space = !out.empty();
            continue;
        }
        if (out.size() >= max_size) {
            out += "...";
            break;
        }
        if (pending_space) out += ' ';
        pending_space = false;
        out += (byte > 0x20 && byte < 0x7f) ? c : '?';
    }
    return out;
}

}  // namespace rancher_ecr
