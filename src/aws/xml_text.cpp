#include "aws/xml_text.hpp"

#include <array>
#include <utility>

namespace rancher_ecr {

std::string decode_xml_text(std::string_view text) {
    static constexpr std::array<std::pair<std::string_view, char>, 5> entities{{
        {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}}};
    std::string out;
    while (!text.empty()) {
        // CDATA (moto wraps messages in it) is copied as it stands.
        if (text.starts_with("<![CDATA[")) {
            text.remove_prefix(9);
            auto const end = text.find("]]>");
            out += text.substr(0, end);
            text.remove_prefix(end == std::string_view::npos ? text.size() : end + 3);
            continue;
        }
        bool replaced = false;
        if (text.front() == '&') {
            for (auto const& [entity, c] : entities) {
                if (text.starts_with(entity)) {
                    out += c;
                    text.remove_prefix(entity.size());
                    replaced = true;
                    break;
                }
            }
        }
        if (!replaced) {
            out += text.front();
            text.remove_prefix(1);
        }
    }
    return out;
}

std::optional<std::string> xml_element_text(std::string_view scope, std::string_view name) {
    std::string const open = "<" + std::string(name) + ">";
    std::string const close = "</" + std::string(name) + ">";
    auto const start = scope.find(open);
    if (start == std::string_view::npos) return std::nullopt;
    auto const end = scope.find(close, start + open.size());
    if (end == std::string_view::npos) return std::nullopt;
    return decode_xml_text(scope.substr(start + open.size(), end - start - open.size()));
}

}  // namespace rancher_ecr
