// ECR's answers: GetAuthorizationToken's JSON (parse_authorization_response) and AWS error bodies,
// JSON 1.1 and XML (parse_aws_error, with xml_text underneath).
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "aws/ecr_token.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace rancher_ecr;
using rancher_ecr::fuzz::contains;
using rancher_ecr::fuzz::printable_ascii;

// Every string of a JSON value, keys included, decoded.
void collect_strings(boost::json::value const& value, std::vector<std::string>& out) {
    if (auto const* text = value.if_string()) {
        out.emplace_back(*text);
    } else if (auto const* array = value.if_array()) {
        for (auto const& item : *array) collect_strings(item, out);
    } else if (auto const* object = value.if_object()) {
        for (auto const& field : *object) {
            out.emplace_back(field.key());
            collect_strings(field.value(), out);
        }
    }
}

bool base64_alphabet(std::string_view text) {
    for (char c : text) {
        bool const ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                        c == '/' || c == '=';
        if (!ok) return false;
    }
    return true;
}

// Lenient base64 (what the token may decode to, whatever the parser thinks of it).
std::string decode_base64(std::string_view text) {
    std::string out;
    std::uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        int digit = c >= 'A' && c <= 'Z'   ? c - 'A'
                    : c >= 'a' && c <= 'z' ? c - 'a' + 26
                    : c >= '0' && c <= '9' ? c - '0' + 52
                    : c == '+'             ? 62
                    : c == '/'             ? 63
                                           : -1;
        if (digit < 0) continue;
        bits = (bits << 6) | static_cast<std::uint32_t>(digit);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    return out;
}

// The tokens of the body's entries and their passwords: a failure message must not quote them. Only those long enough
// and not found in any other string of the body are checked (another field, quoted legitimately,
// may hold the same text).
std::vector<std::string> distinctive_tokens(std::string_view body) {
    boost::system::error_code ec;
    auto const root = boost::json::parse(body, ec);
    std::vector<std::string> tokens;
    if (ec || !root.is_object()) return tokens;
    auto const* data = root.get_object().if_contains("authorizationData");
    if (!data || !data->is_array()) return tokens;
    std::vector<std::string> everything;
    collect_strings(root, everything);
    for (auto const& entry : data->get_array()) {
        if (!entry.is_object()) continue;
        auto const* token = entry.get_object().if_contains("authorizationToken");
        if (!token || !token->is_string()) continue;
        std::string const text{token->get_string()};
        if (text.size() < 24 || !base64_alphabet(text)) continue;
        std::size_t holders = 0;
        for (auto const& other : everything)
            if (contains(other, text)) ++holders;
        if (holders == 1) tokens.push_back(text);  // only the token itself holds it
        // The password it decodes to, when it is not in the body as it stands.
        auto const decoded = decode_base64(text);
        auto const colon = decoded.find(':');
        if (colon == std::string::npos) continue;
        auto const password = decoded.substr(colon + 1);
        if (password.size() >= 16 && password.find_first_of(" \t\r\n\"'?") == std::string::npos &&
            !contains(body, password))
            tokens.push_back(password);
    }
    return tokens;
}

void check_authorization_response(std::string_view body) {
    auto parsed = parse_authorization_response(body);
    if (parsed) {
        FUZZ_CHECK(!parsed->empty(), body);
        auto const year_2200 = std::chrono::sys_days{std::chrono::year{2200} / 1 / 1};
        for (auto const& entry : *parsed) {
            FUZZ_CHECK(!entry.username.empty(), body);
            FUZZ_CHECK(!entry.password.empty(), body);
            FUZZ_CHECK(fuzz::no_control_characters(entry.username), entry.username);
            FUZZ_CHECK(fuzz::no_control_characters(entry.password), body);
            FUZZ_CHECK(!entry.registry_host.empty(), body);
            for (char c : entry.registry_host) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), entry.registry_host);
            FUZZ_CHECK(entry.expires_at >= std::chrono::system_clock::time_point{}, body);
            FUZZ_CHECK(entry.expires_at <= year_2200, body);
        }
        return;
    }
    auto const& f = parsed.error();
    FUZZ_CHECK(f.kind == failure_kind::bad_response, f.message);
    FUZZ_CHECK(f.message.starts_with("malformed ECR GetAuthorizationToken response: "), f.message);
    FUZZ_CHECK(printable_ascii(f.message), f.message);
    // "messages never quote a token"
    for (auto const& token : distinctive_tokens(body)) FUZZ_CHECK(!contains(f.message, token), f.message);
}

void check_aws_error(int status, std::string_view body) {
    constexpr std::string_view operation = "ECR GetAuthorizationToken at api.ecr.us-east-1.amazonaws.com";
    auto const f = parse_aws_error(status, body, operation);
    FUZZ_CHECK(f.kind == failure_kind::service, f.message);
    FUZZ_CHECK(f.http_status == status, f.message);
    FUZZ_CHECK(f.message.starts_with(operation), f.message);
    FUZZ_CHECK(f.message.size() <= operation.size() + 700, f.message);
    FUZZ_CHECK(printable_ascii(f.message), f.message);
    FUZZ_CHECK(printable_ascii(f.code), f.code);
    FUZZ_CHECK(f.code.size() <= 64 + 4, f.code);  // "about" 64: sanitised_excerpt may add " x..."
    FUZZ_CHECK(f.retryable == is_retryable_aws_error(status, f.code), f.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const body{reinterpret_cast<char const*>(data), size};
    check_authorization_response(body);
    static constexpr std::array<int, 6> statuses{400, 403, 429, 500, 503, 200};
    check_aws_error(statuses[size % statuses.size()], body);
    return 0;
}
