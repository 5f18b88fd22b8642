// The credential providers' answers: STS AssumeRole / AssumeRoleWithWebIdentity (XML), the
// container endpoint's and instance metadata's JSON, and the ISO 8601 times in them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "aws/credential_responses.hpp"
#include "aws/xml_text.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace rancher_ecr;
using namespace std::chrono;
using rancher_ecr::fuzz::contains;
using rancher_ecr::fuzz::printable_ascii;

// A secret that a message must not quote: longer than the messages' own words, without the
// characters that join them to a quoted excerpt (space, quotes, '?' for what an excerpt cannot
// print), and not also held by a field that a message may quote (`quotable`).
bool distinctive(std::string const& secret, std::vector<std::string> const& quotable) {
    if (secret.size() < 16 || secret.find_first_of(" \t\r\n\"'?<>") != std::string::npos) return false;
    for (auto const& other : quotable)
        if (contains(other, secret)) return false;
    return true;
}

void check_sts(std::string_view body) {
    auto parsed = parse_sts_credentials(body);
    if (parsed) {
        FUZZ_CHECK(!parsed->access_key_id.empty(), body);
        FUZZ_CHECK(!parsed->secret_access_key.empty(), body);
        FUZZ_CHECK(!parsed->session_token.empty(), body);
        FUZZ_CHECK(parsed->expiration.has_value(), body);
        return;
    }
    auto const& f = parsed.error();
    FUZZ_CHECK(f.kind == failure_kind::bad_response, f.message);
    FUZZ_CHECK(printable_ascii(f.message), f.message);
    auto const start = body.find("<Credentials>");
    if (start == std::string_view::npos) return;
    auto const scope = body.substr(start);
    std::vector<std::string> quotable;
    if (auto expiration = xml_element_text(scope, "Expiration")) quotable.push_back(*expiration);
    for (auto name : {"SecretAccessKey", "SessionToken"}) {
        auto secret = xml_element_text(scope, name);
        if (secret && distinctive(*secret, quotable)) FUZZ_CHECK(!contains(f.message, *secret), f.message);
    }
}

void check_json(std::string_view body) {
    auto parsed = parse_json_credentials(body);
    if (parsed) {
        FUZZ_CHECK(!parsed->access_key_id.empty(), body);
        FUZZ_CHECK(!parsed->secret_access_key.empty(), body);
        return;
    }
    auto const& f = parsed.error();
    FUZZ_CHECK(f.kind == failure_kind::bad_response, f.message);
    FUZZ_CHECK(fuzz::no_control_characters(f.message), f.message);
    boost::system::error_code ec;
    auto const root = boost::json::parse(body, ec);
    if (ec || !root.is_object()) return;
    auto const& object = root.get_object();
    auto text = [&](std::string_view name) -> std::optional<std::string> {
        auto const* value = object.if_contains(name);
        if (!value || !value->is_string()) return std::nullopt;
        return std::string{value->get_string()};
    };
    std::vector<std::string> quotable;
    for (auto name : {"Code", "Message", "Expiration"})
        if (auto value = text(name)) quotable.push_back(*value);
    for (auto name : {"SecretAccessKey", "Token"}) {
        auto secret = text(name);
        if (secret && distinctive(*secret, quotable)) FUZZ_CHECK(!contains(f.message, *secret), f.message);
    }
}

// The fields as written, when `text` has the form YYYY-MM-DDTHH:MM:SS at its start.
std::optional<system_clock::time_point> written_fields(std::string_view text) {
    if (text.size() < 19) return std::nullopt;
    auto number = [&](std::size_t at, std::size_t count) {
        int value = 0;
        for (std::size_t i = at; i < at + count; ++i) value = value * 10 + (text[i] - '0');
        return value;
    };
    year_month_day const date{year{number(0, 4)}, month{static_cast<unsigned>(number(5, 2))},
                              day{static_cast<unsigned>(number(8, 2))}};
    return sys_days{date} + hours{number(11, 2)} + minutes{number(14, 2)} + seconds{number(17, 2)};
}

void check_iso8601(std::string_view text) {
    auto parsed = parse_iso8601(text);
    if (!parsed) return;
    // Accepted: the date is valid, and the time is the written one shifted by a zone offset of
    // less than a day, plus a fraction of a second.
    FUZZ_CHECK(text.size() >= 20, text);
    auto const written = written_fields(text);
    FUZZ_CHECK(written.has_value(), text);
    year_month_day const date{floor<days>(*written)};
    FUZZ_CHECK(date.ok(), text);
    auto const shift = *parsed - *written;
    FUZZ_CHECK(shift > -hours{24} && shift < hours{24} + seconds{1}, text);
    std::size_t at = 19;
    if (at < text.size() && text[at] == '.')
        for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9';) ++at;
    auto const zone = text.substr(at);
    if (zone == "Z" || zone == "z") {
        FUZZ_CHECK(shift >= seconds{0} && shift < seconds{1}, text);
    } else {
        // +HH:MM or +HHMM: a real offset, hours below 24 and minutes below 60.
        FUZZ_CHECK(zone.size() == 5 || zone.size() == 6, text);
        FUZZ_CHECK(zone.substr(1, 2) < "24", text);
        FUZZ_CHECK(zone.substr(zone.size() - 2) < "60", text);
    }
}

void check_xml_text(std::string_view text) {
    FUZZ_CHECK(decode_xml_text(text).size() <= text.size(), text);
    for (auto name : {"Code", "Message", "AccessKeyId"}) {
        if (auto value = xml_element_text(text, name)) FUZZ_CHECK(value->size() <= text.size(), text);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const body{reinterpret_cast<char const*>(data), size};
    check_sts(body);
    check_json(body);
    check_iso8601(body);
    // The times inside an answer as well: after every '>' and every '"'.
    for (std::size_t at = body.find_first_of(">\""); at != std::string_view::npos;
         at = body.find_first_of(">\"", at + 1)) {
        auto rest = body.substr(at + 1);
        check_iso8601(rest.substr(0, rest.find_first_of("<\"")));
    }
    check_xml_text(body);
    return 0;
}
