#pragma once

#include <string_view>

namespace rancher_ecr {

// `text` without the `blanks` around it. The default is HTTP's optional white space, which is also
// what surrounds an item of a comma-separated setting.
constexpr std::string_view trim(std::string_view text, std::string_view blanks = " \t") {
    auto const first = text.find_first_not_of(blanks);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

}  // namespace rancher_ecr
