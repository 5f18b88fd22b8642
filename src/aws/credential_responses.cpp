#include "aws/credential_responses.hpp"

#include <array>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "aws/xml_text.hpp"
#include "net/url.hpp"
#include "peer_text.hpp"

namespace rancher_ecr {

namespace {

using namespace std::chrono;

// The digits at text[at, at + count) as a number; nullopt unless all are digits.
std::optional<int> digits(std::string_view text, std::size_t at, std::size_t count) {
    if (at + count > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

failure bad(std::string message) { return make_failure(failure_kind::bad_response, std::move(message)); }

}  // namespace

std::optional<system_clock::time_point> parse_iso8601(std::string_view text) {
    // 2026-11-29T04:29:44
    auto y = digits(text, 0, 4);
    auto mo = digits(text, 5, 2);
    auto d = digits(text, 8, 2);
    auto h = digits(text, 11, 2);
    auto mi = digits(text, 14, 2);
    auto s = digits(text, 17, 2);
    if (!y || !mo || !d || !h || !mi || !s || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' || text[16] != ':')
        return std::nullopt;
    // system_clock counts nanoseconds in 64 bits, from 1677 to 2262: a year outside 1970 to 2200
    // would overflow (found by tests/fuzz/credential_responses_fuzz), and no AWS expiration has one.
    if (*y < 1970 || *y > 2200) return std::nullopt;
    year_month_day const date{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
    if (!date.ok() || *h > 23 || *mi > 59 || *s > 60) return std::nullopt;
    system_clock::time_point time = sys_days{date} + hours{*h} + minutes{*mi} + seconds{*s};

    std::size_t at = 19;
    if (at < text.size() && text[at] == '.') {
        ++at;
        std::int64_t micros = 0;
        std::size_t count = 0;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            if (count < 6) micros = micros * 10 + (text[at] - '0');
            ++count;
            ++at;
        }
        if (count == 0) return std::nullopt;
        for (auto i = count; i < 6; ++i) micros *= 10;
        time += duration_cast<system_clock::duration>(microseconds{micros});
    }
    auto zone = text.substr(at);
    if (zone == "Z" || zone == "z") return time;
    if (zone.size() != 6 && zone.size() != 5) return std::nullopt;
    if (zone[0] != '+' && zone[0] != '-') return std::nullopt;
    auto zone_hours = digits(zone, 1, 2);
    auto zone_minutes = digits(zone, zone.size() == 6 ? 4 : 3, 2);
    if (!zone_hours || !zone_minutes || (zone.size() == 6 && zone[3] != ':')) return std::nullopt;
    if (*zone_hours > 23 || *zone_minutes > 59) return std::nullopt;
    auto const offset = hours{*zone_hours} + minutes{*zone_minutes};
    return zone[0] == '+' ? time - offset : time + offset;
}

std::string assume_role_body(std::string_view role_arn, std::string_view session_name, std::string_view external_id) {
    std::string body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + percent_encode(role_arn) +
                       "&RoleSessionName=" + percent_encode(session_name);
    if (!external_id.empty()) body += "&ExternalId=" + percent_encode(external_id);
    return body;
}

std::string web_identity_body(std::string_view role_arn, std::string_view session_name, std::string_view token) {
    return "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + percent_encode(role_arn) +
           "&RoleSessionName=" + percent_encode(session_name) + "&WebIdentityToken=" + percent_encode(token);
}

result<aws_credentials> parse_sts_credentials(std::string_view body) {
    auto const start = body.find("<Credentials>");
    if (start == std::string_view::npos) return bad("the answer has no <Credentials> element");
    auto const scope = body.substr(start);
    aws_credentials credentials;
    std::array<std::pair<std::string_view, std::string*>, 3> const fields{{
        {"AccessKeyId", &credentials.access_key_id},
        {"SecretAccessKey", &credentials.secret_access_key},
        {"SessionToken", &credentials.session_token},
    }};
    for (auto const& [name, target] : fields) {
        auto value = xml_element_text(scope, name);
        if (!value || value->empty()) return bad("the answer's <Credentials> has no " + std::string{name});
        *target = std::move(*value);
    }
    auto expiration = xml_element_text(scope, "Expiration");
    if (!expiration) return bad("the answer's <Credentials> has no Expiration");
    auto at = parse_iso8601(*expiration);
    if (!at) return bad("the answer's Expiration \"" + sanitised_excerpt(*expiration, 40) + "\" is not an ISO 8601 time");
    credentials.expiration = *at;
    return credentials;
}

result<aws_credentials> parse_json_credentials(std::string_view body) {
    boost::system::error_code error;
    auto parsed = boost::json::parse(body, error);
    if (error) return bad("the answer is not JSON: " + error.message());
    auto const* object = parsed.if_object();
    if (!object) return bad(std::string{"the answer is "} + std::string{json_kind_name(parsed.kind())} + ", not an object");

    auto text_of = [&](std::string_view name) -> result<std::optional<std::string>> {
        auto const* value = object->if_contains(name);
        if (!value || value->is_null()) return std::optional<std::string>{};
        if (!value->is_string()) {
            return bad("the answer's " + std::string{name} + " is " + std::string{json_kind_name(value->kind())} +
                       ", not a string");
        }
        return std::optional<std::string>{std::string{value->get_string()}};
    };

    auto code = text_of("Code");
    if (!code) return code.error();
    if (*code && **code != "Success") {
        auto message = text_of("Message");
        std::string detail = message && *message ? ": " + sanitised_excerpt(**message, 200) : "";
        return bad("the answer's Code is \"" + sanitised_excerpt(**code, 60) + "\", not \"Success\"" + detail);
    }

    aws_credentials credentials;
    std::array<std::pair<std::string_view, std::string*>, 3> const fields{{
        {"AccessKeyId", &credentials.access_key_id},
        {"SecretAccessKey", &credentials.secret_access_key},
        {"Token", &credentials.session_token},
    }};
    for (auto const& [name, target] : fields) {
        auto value = text_of(name);
        if (!value) return value.error();
        if (*value) *target = std::move(**value);
    }
    if (credentials.access_key_id.empty()) return bad("the answer has no AccessKeyId");
    if (credentials.secret_access_key.empty()) return bad("the answer has no SecretAccessKey");
    auto expiration = text_of("Expiration");
    if (!expiration) return expiration.error();
    if (*expiration) {
        auto at = parse_iso8601(**expiration);
        if (!at) {
            return bad("the answer's Expiration \"" + sanitised_excerpt(**expiration, 40) +
                       "\" is not an ISO 8601 time");
        }
        credentials.expiration = *at;
    }
    return credentials;
}

std::string generated_session_name(system_clock::time_point now) {
    return "rancher-ecr-credentials-" + std::to_string(duration_cast<seconds>(now.time_since_epoch()).count());
}

}  // namespace rancher_ecr
