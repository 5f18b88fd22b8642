#include "net/http_message.hpp"

#include <algorithm>
#include <cctype>

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

}  // namespace rancher_ecr
