#include "net/http_message.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace rancher_ecr {

namespace {

std::optional<std::string_view> find_header(std::vector<http_header> const& headers, std::string_view name) {
    for (auto const& h : headers)
        if (iequals(h.name, name)) return std::string_view{h.value};
    return std::nullopt;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::optional<std::string_view> http_request::header(std::string_view name) const {
    return find_header(headers, name);
}

void http_request::set_header(std::string_view name, std::string value) {
    std::erase_if(headers, [&](http_header const& h) { return iequals(h.name, name); });
    headers.push_back({std::string{name}, std::move(value)});
}

std::optional<std::string_view> http_response::header(std::string_view name) const {
    return find_header(headers, name);
}

std::string basic_authorization(std::string_view user, std::string_view password) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string plain{user};
    plain += ':';
    plain += password;
    std::string out = "Basic ";
    for (std::size_t i = 0; i < plain.size(); i += 3) {
        std::uint32_t group = static_cast<std::uint32_t>(static_cast<unsigned char>(plain[i])) << 16;
        if (i + 1 < plain.size()) group |= static_cast<std::uint32_t>(static_cast<unsigned char>(plain[i + 1])) << 8;
        if (i + 2 < plain.size()) group |= static_cast<std::uint32_t>(static_cast<unsigned char>(plain[i + 2]));
        out += alphabet[(group >> 18) & 0x3f];
        out += alphabet[(group >> 12) & 0x3f];
        out += i + 1 < plain.size() ? alphabet[(group >> 6) & 0x3f] : '=';
        out += i + 2 < plain.size() ? alphabet[group & 0x3f] : '=';
    }
    return out;
}

}  // namespace rancher_ecr
