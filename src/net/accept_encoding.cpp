#include "net/accept_encoding.hpp"

#include <optional>

#include "ascii_text.hpp"
#include "net/http_message.hpp"

namespace rancher_ecr {

namespace {

// A weight ("q=0.5") is zero when it is 0, 0., 0.0, 0.00 or 0.000 (RFC 9110, 12.4.2).
bool zero_weight(std::string_view parameters) {
    while (!parameters.empty()) {
        auto const semicolon = parameters.find(';');
        auto const parameter = trim(parameters.substr(0, semicolon));
        parameters = semicolon == std::string_view::npos ? std::string_view{} : parameters.substr(semicolon + 1);
        if (parameter.size() < 2 || (parameter[0] != 'q' && parameter[0] != 'Q') || parameter[1] != '=') continue;
        auto const weight = trim(parameter.substr(2));
        return !weight.empty() && weight[0] == '0' && weight.find_first_not_of("0.", 1) == std::string_view::npos;
    }
    return false;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
    std::optional<bool> named, any;  // "gzip" (or "x-gzip") itself wins over "*"
    while (!accept_encoding.empty()) {
        auto const comma = accept_encoding.find(',');
        auto const element = accept_encoding.substr(0, comma);
        accept_encoding = comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
        auto const semicolon = element.find(';');
        auto const coding = trim(element.substr(0, semicolon));
        bool const weighted = semicolon == std::string_view::npos || !zero_weight(element.substr(semicolon + 1));
        if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) named = named.value_or(false) || weighted;
        else if (coding == "*") any = weighted;
    }
    return named.value_or(any.value_or(false));
}

}  // namespace rancher_ecr
