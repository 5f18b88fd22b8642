#pragma once

#include <string>
#include <string_view>

namespace rancher_ecr {

// Helpers for the ASCII text of protocols and settings (header values, hosts, schemes, setting
// names), the same whatever the process's locale.

// `text` without the `blanks` around it. The default is HTTP's optional white space, which is also
// what surrounds an item of a comma-separated setting.
constexpr std::string_view trim(std::string_view text, std::string_view blanks = " \t") {
    auto const first = text.find_first_not_of(blanks);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

// `text` with A-Z as a-z, for names compared without regard to case.
inline std::string lower(std::string_view text) {
    std::string out{text};
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace rancher_ecr
