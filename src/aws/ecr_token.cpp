#include "aws/ecr_token.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>

#include <boost/json.hpp>

#include "aws/xml_text.hpp"
#include "net/url.hpp"
#include "peer_text.hpp"

namespace rancher_ecr {
namespace {

namespace json = boost::json;
using std::chrono::system_clock;

// No honest token expires after 2200-01-01. The bound also keeps the value far inside
// system_clock's range (nanoseconds in 64 bits end in 2262), so the conversion cannot overflow.
constexpr std::int64_t max_expiry_seconds = 7258118400;

failure malformed(std::string_view detail) {
    std::string message = "malformed ECR GetAuthorizationToken response: ";
    message += detail;
    return make_failure(failure_kind::bad_response, std::move(message));
}

int base64_digit(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Strict standard base64 with padding. Not EVP_DecodeBlock: it counts padding as data bytes
// and skips surrounding whitespace, so its length needs fixing up and its errors are vaguer.
std::optional<std::string> decode_base64(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        std::uint32_t group = 0;
        int padding = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            char const c = text[i + j];
            int digit = 0;
            if (c == '=') {
                // Padding only fills the last one or two places of the last group.
                if (i + 4 != text.size() || j < 2) return std::nullopt;
                ++padding;
            } else {
                digit = base64_digit(c);
                if (digit < 0 || padding > 0) return std::nullopt;
            }
            group = (group << 6) | static_cast<std::uint32_t>(digit);
        }
        out += static_cast<char>((group >> 16) & 0xff);
        if (padding < 2) out += static_cast<char>((group >> 8) & 0xff);
        if (padding < 1) out += static_cast<char>(group & 0xff);
    }
    return out;
}

bool has_control_character(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        auto const byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

// Fills user and password from authorizationToken. The messages name the problem, never the value.
std::optional<std::string> decode_token(std::string_view token, ecr_authorization& out) {
    if (token.empty()) return "is empty";
    auto decoded = decode_base64(token);
    if (!decoded) return "is not valid base64 (standard alphabet, padded)";
    auto const colon = decoded->find(':');
    if (colon == std::string::npos) return "does not decode to user:password (no ':')";
    std::string_view const user = std::string_view(*decoded).substr(0, colon);
    std::string_view const password = std::string_view(*decoded).substr(colon + 1);
    if (user.empty()) return "decodes to an empty user name";
    if (password.empty()) return "decodes to an empty password";
    // Both go into HTTP headers and JSON downstream; a control character there is never legitimate.
    if (has_control_character(user) || has_control_character(password)) {
        return "decodes to a user name or password with control characters";
    }
    out.username = user;
    out.password = password;
    return std::nullopt;
}

std::optional<std::string> decode_expiry(json::value const& value, system_clock::time_point& out) {
    switch (value.kind()) {
        case json::kind::int64: {
            std::int64_t const seconds = value.get_int64();
            if (seconds < 0) return "is negative (" + std::to_string(seconds) + ")";
            if (seconds > max_expiry_seconds) return "is after the year 2200 (" + std::to_string(seconds) + ")";
            out = system_clock::time_point(std::chrono::seconds(seconds));
            return std::nullopt;
        }
        case json::kind::uint64:
            // Boost.JSON uses uint64 only beyond the int64 range.
            return "is after the year 2200 (" + std::to_string(value.get_uint64()) + ")";
        case json::kind::double_: {
            double const seconds = value.get_double();
            if (!std::isfinite(seconds)) return std::string("is not a finite number");
            if (seconds < 0) return "is negative (" + json::serialize(value) + ")";
            if (seconds > static_cast<double>(max_expiry_seconds)) {
                return "is after the year 2200 (" + json::serialize(value) + ")";
            }
            // Milliseconds: the precision ECR gives, and exact in a double for any such date.
            auto const millis = std::chrono::round<std::chrono::milliseconds>(std::chrono::duration<double>(seconds));
            out = system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(millis));
            return std::nullopt;
        }
        default:
            return "expected epoch seconds as a number, got " + std::string(json_kind_name(value.kind()));
    }
}

std::optional<std::string> decode_proxy_endpoint(std::string_view text, std::string& out) {
    if (text.empty()) return std::string("is empty");
    // A bare host is accepted too: read it as if it had a scheme.
    std::string const candidate =
        text.find("://") == std::string_view::npos ? "https://" + std::string(text) : std::string(text);
    auto parsed = parse_url(candidate);
    if (!parsed || parsed->host.empty()) {
        return "is not a URL or host name: \"" + sanitised_excerpt(text, 100) + "\"";
    }
    out = parsed->authority();
    return std::nullopt;
}

result<ecr_authorization> parse_entry(json::value const& entry, std::size_t index) {
    std::string const where = "authorizationData[" + std::to_string(index) + "]";
    if (!entry.is_object()) return malformed(where + ": expected an object, got " + std::string(json_kind_name(entry.kind())));
    json::object const& fields = entry.get_object();

    auto field = [&](std::string_view name) -> result<json::value const*> {
        json::value const* value = fields.if_contains(name);
        if (value == nullptr) return malformed(where + "." + std::string(name) + " is missing");
        return value;
    };
    auto string_field = [&](std::string_view name) -> result<std::string_view> {
        auto value = field(name);
        if (!value) return value.error();
        if (!(*value)->is_string()) {
            return malformed(where + "." + std::string(name) + ": expected a string, got " +
                             std::string(json_kind_name((*value)->kind())));
        }
        return std::string_view((*value)->get_string());
    };

    ecr_authorization out;
    auto token = string_field("authorizationToken");
    if (!token) return token.error();
    if (auto problem = decode_token(*token, out)) return malformed(where + ".authorizationToken " + *problem);

    auto expires = field("expiresAt");
    if (!expires) return expires.error();
    if (auto problem = decode_expiry(**expires, out.expires_at)) return malformed(where + ".expiresAt " + *problem);

    auto endpoint = string_field("proxyEndpoint");
    if (!endpoint) return endpoint.error();
    if (auto problem = decode_proxy_endpoint(*endpoint, out.registry_host)) {
        return malformed(where + ".proxyEndpoint " + *problem);
    }
    return out;
}

// --- AWS errors ---

struct aws_error_fields {
    std::string code;
    std::string message;
};

// "aws.protocoltests#ThrottlingException" and "ThrottlingException:http://..." both mean
// "ThrottlingException" (botocore strips the same way).
std::string normalise_code(std::string_view code) {
    if (auto hash = code.rfind('#'); hash != std::string_view::npos) code.remove_prefix(hash + 1);
    if (auto colon = code.find(':'); colon != std::string_view::npos) code = code.substr(0, colon);
    return std::string(code);
}

std::optional<aws_error_fields> error_from_json(std::string_view body) {
    boost::system::error_code ec;
    json::value const root = json::parse(body, ec);
    if (ec || !root.is_object()) return std::nullopt;
    json::object const& fields = root.get_object();
    auto text_of = [&](std::initializer_list<std::string_view> names) -> std::optional<std::string_view> {
        for (auto name : names) {
            if (auto const* value = fields.if_contains(name); value != nullptr && value->is_string()) {
                return std::string_view(value->get_string());
            }
        }
        return std::nullopt;
    };
    auto code = text_of({"__type", "code", "Code"});
    auto message = text_of({"message", "Message", "errorMessage"});
    if (!code && !message) return std::nullopt;
    return aws_error_fields{normalise_code(code.value_or("")), std::string(message.value_or(""))};
}

// <ErrorResponse><Error>..</Error></ErrorResponse> (query protocol, moto) and <Error>..</Error> (S3):
// both have the fields inside the first <Error>.
std::optional<aws_error_fields> error_from_xml(std::string_view body) {
    auto const start = body.find("<Error>");
    if (start == std::string_view::npos) return std::nullopt;
    std::string_view const scope = body.substr(start);
    auto code = xml_element_text(scope, "Code");
    auto message = xml_element_text(scope, "Message");
    if (!code && !message) return std::nullopt;
    return aws_error_fields{normalise_code(code.value_or("")), message.value_or("")};
}

// What the operator should look at, for the codes that need one.
std::string_view operator_hint(std::string_view code, std::string_view message) {
    if (code == "SignatureDoesNotMatch" || code == "InvalidSignatureException" || code == "IncompleteSignature" ||
        code == "IncompleteSignatureException") {
        if (message.find("xpired") != std::string_view::npos) return "check the system clock";
        return "check the secret access key";
    }
    if (code == "InvalidClientTokenId" || code == "UnrecognizedClientException" || code == "InvalidAccessKeyId") {
        return "the access key ID is not known: check the credentials";
    }
    if (code == "AccessDenied" || code == "AccessDeniedException") {
        return "the identity lacks permission for this call";
    }
    if (code == "ExpiredToken" || code == "ExpiredTokenException") return "the session credentials have expired";
    if (code == "RequestExpired") return "check the system clock";
    return {};
}

}  // namespace

std::string authorization_request_body(std::vector<std::string> const& registry_ids) {
    if (registry_ids.empty()) return "{}";
    json::array ids;
    for (auto const& id : registry_ids) ids.emplace_back(id);
    json::object body;
    body["registryIds"] = std::move(ids);
    return json::serialize(body);
}

result<std::vector<ecr_authorization>> parse_authorization_response(std::string_view body) {
    if (body.empty()) return malformed("the body is empty");
    if (body.size() > max_authorization_response_size) {
        return malformed("the body has " + std::to_string(body.size()) + " bytes, more than the " +
                         std::to_string(max_authorization_response_size) + " accepted");
    }
    boost::system::error_code ec;
    json::value const root = json::parse(body, ec);
    // The parser's message names the problem (e.g. "incomplete JSON"), not the input.
    if (ec) return malformed("not valid JSON (" + ec.message() + ")");
    if (!root.is_object()) return malformed("expected a JSON object, got " + std::string(json_kind_name(root.kind())));

    json::value const* data = root.get_object().if_contains("authorizationData");
    if (data == nullptr) return malformed("authorizationData is missing");
    if (!data->is_array()) return malformed("authorizationData: expected an array, got " + std::string(json_kind_name(data->kind())));
    json::array const& entries = data->get_array();
    if (entries.empty()) return malformed("authorizationData is empty: ECR returned no token");

    std::vector<ecr_authorization> out;
    out.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        auto entry = parse_entry(entries[i], i);
        if (!entry) return entry.error();
        out.push_back(std::move(*entry));
    }
    return out;
}

bool is_retryable_aws_error(int http_status, std::string_view code) {
    if (is_retryable(failure_kind::service, http_status)) return true;
    // botocore's throttling and transient codes (retryhandler / standard retry mode), less
    // LimitExceededException (a quota in ECR, not a rate) and DynamoDB's TransactionInProgressException.
    static constexpr std::array<std::string_view, 15> retryable_codes{
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
    };
    return std::find(retryable_codes.begin(), retryable_codes.end(), code) != retryable_codes.end();
}

failure parse_aws_error(int http_status, std::string_view body, std::string_view operation) {
    std::optional<aws_error_fields> fields;
    // Bound the work on a hostile body; a real AWS error is a few hundred bytes.
    std::string_view const bounded = body.substr(0, 64 * 1024);
    auto const first = bounded.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && bounded[first] == '{') {
        fields = error_from_json(bounded);
    } else if (first != std::string_view::npos && bounded[first] == '<') {
        fields = error_from_xml(bounded);
    }

    failure out;
    out.kind = failure_kind::service;
    out.http_status = http_status;
    out.message = operation.empty() ? "AWS request" : std::string(operation);
    if (fields) {
        out.code = sanitised_excerpt(fields->code, 64);
        std::string const message = sanitised_excerpt(fields->message, 300);
        out.message += " failed: ";
        out.message += message.empty() ? (out.code.empty() ? "no error message" : out.code) : message;
        if (auto hint = operator_hint(out.code, message); !hint.empty()) {
            out.message += "; ";
            out.message += hint;
        }
    } else if (first == std::string_view::npos) {
        out.message += " failed with an empty answer";
    } else {
        out.message += " failed with an unrecognised answer: \"" + sanitised_excerpt(bounded, 200) + "\"";
    }
    out.retryable = is_retryable_aws_error(http_status, out.code);
    return out;
}

}  // namespace rancher_ecr
