#include "aws/sigv4.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace rancher_ecr {
namespace {

namespace fs = std::filesystem;
using std::chrono::system_clock;

// The time of every case of the suite and of the ECR example: 2015-08-30T12:36:00Z.
constexpr auto example_time = system_clock::time_point{std::chrono::sys_days{std::chrono::year{2015} /
                                                                             std::chrono::August / 30} +
                                                       std::chrono::hours{12} + std::chrono::minutes{36}};

aws_credentials example_credentials() {
    aws_credentials credentials;
    credentials.access_key_id = "AKIDEXAMPLE";
    credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    return credentials;
}

std::string read_file(fs::path const& path) {
    std::ifstream in{path, std::ios::binary};
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, 32> digest{};
    if (EVP_Digest(data.data(), data.size(), digest.data(), nullptr, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    std::string out;
    for (unsigned char c : digest) {
        std::array<char, 3> byte{};
        std::snprintf(byte.data(), byte.size(), "%02x", c);
        out += byte.data();
    }
    return out;
}

// A request.txt of the suite: request line (the target may hold raw spaces), headers, blank
// line, body. A line starting with whitespace continues the previous header (obs-fold); the
// line break becomes a space, as RFC 9112 §5.2 allows, and the signer collapses the rest.
http_request parse_request(std::string_view text) {
    http_request request;
    std::size_t pos = 0;
    auto next_line = [&]() -> std::optional<std::string_view> {
        if (pos >= text.size()) return std::nullopt;
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        auto const line = text.substr(pos, end - pos);
        pos = end + 1;
        return line;
    };
    auto const request_line = next_line().value_or("");
    auto const first_space = request_line.find(' ');
    auto const last_space = request_line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space)
        throw std::runtime_error("bad request line: " + std::string{request_line});
    request.method = request_line.substr(0, first_space);
    request.target = request_line.substr(first_space + 1, last_space - first_space - 1);
    while (auto const line = next_line()) {
        if (line->empty()) {
            request.body = pos < text.size() ? text.substr(pos) : "";
            break;
        }
        if (line->front() == ' ' || line->front() == '\t') {
            request.headers.back().value += ' ';
            request.headers.back().value += *line;
            continue;
        }
        auto const colon = line->find(':');
        request.headers.push_back({std::string{line->substr(0, colon)}, std::string{line->substr(colon + 1)}});
    }
    return request;
}

// Headers as a sorted list of (lowercase name, value), to compare requests regardless of order.
std::vector<std::pair<std::string, std::string>> header_set(http_request const& request) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto const& [name, value] : request.headers) {
        std::string lower = name;
        std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        out.emplace_back(std::move(lower), value);
    }
    std::ranges::sort(out);
    return out;
}

struct vector_context {
    aws_credentials credentials;
    std::string region;
    std::string service;
    system_clock::time_point time;
    bool normalize = true;
    bool sign_body = false;
    bool omit_session_token = false;
};

system_clock::time_point parse_iso8601(std::string const& text) {
    int year = 0, hours = 0, minutes = 0, seconds = 0;
    unsigned month = 0, day = 0;
    if (std::sscanf(text.c_str(), "%d-%u-%uT%d:%d:%dZ", &year, &month, &day, &hours, &minutes, &seconds) != 6)
        throw std::runtime_error("bad timestamp: " + text);
    return std::chrono::sys_days{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day}} +
           std::chrono::hours{hours} + std::chrono::minutes{minutes} + std::chrono::seconds{seconds};
}

vector_context load_context(fs::path const& path) {
    auto const json = boost::json::parse(read_file(path)).as_object();
    auto const& credentials = json.at("credentials").as_object();
    vector_context context;
    context.credentials.access_key_id = credentials.at("access_key_id").as_string();
    context.credentials.secret_access_key = credentials.at("secret_access_key").as_string();
    if (auto const* token = credentials.if_contains("token")) context.credentials.session_token = token->as_string();
    context.region = json.at("region").as_string();
    context.service = json.at("service").as_string();
    context.time = parse_iso8601(std::string{json.at("timestamp").as_string()});
    context.normalize = json.at("normalize").as_bool();
    context.sign_body = json.at("sign_body").as_bool();
    if (auto const* omit = json.if_contains("omit_session_token")) context.omit_session_token = omit->as_bool();
    return context;
}

std::vector<std::string> suite_cases() {
    std::vector<std::string> names;
    for (auto const& entry : fs::directory_iterator{SIGV4_TESTDATA_DIR})
        if (fs::exists(entry.path() / "header-canonical-request.txt")) names.push_back(entry.path().filename().string());
    std::ranges::sort(names);
    return names;
}

// The cases whose context says "normalize": false describe S3, which signs paths as sent.
// ECR (like every other service) wants normalized paths, and so does this signer: those
// cases do not apply and are not instantiated.
std::vector<std::string> normalized_suite_cases() {
    auto names = suite_cases();
    std::erase_if(names, [](std::string const& name) {
        return !load_context(fs::path{SIGV4_TESTDATA_DIR} / name / "context.json").normalize;
    });
    return names;
}

TEST(sigv4_suite_data, has_every_published_case) {
    // Guards against a wrong SIGV4_TESTDATA_DIR making the parameterised tests vanish.
    EXPECT_EQ(suite_cases().size(), 38U);
    EXPECT_EQ(normalized_suite_cases().size(), 31U);
}

class sigv4_suite : public testing::TestWithParam<std::string> {};

TEST_P(sigv4_suite, header_signature) {
    auto const dir = fs::path{SIGV4_TESTDATA_DIR} / GetParam();
    auto const context = load_context(dir / "context.json");
    auto request = parse_request(read_file(dir / "request.txt"));
    // The suite's signer adds the body hash as a header when asked to; ours signs what it is given.
    if (context.sign_body) request.headers.push_back({"x-amz-content-sha256", sha256_hex(request.body)});
    // "omit_session_token": the token is added after signing, so it is not part of the signature.
    auto credentials = context.credentials;
    if (context.omit_session_token) credentials.session_token.clear();

    sign_request(request, credentials, context.region, context.service, context.time);
    auto const signature = compute_sigv4(request, credentials, context.region, context.service);
    if (context.omit_session_token)
        request.headers.push_back({"X-Amz-Security-Token", context.credentials.session_token});

    EXPECT_EQ(signature.canonical_request, read_file(dir / "header-canonical-request.txt"));
    EXPECT_EQ(signature.string_to_sign, read_file(dir / "header-string-to-sign.txt"));
    EXPECT_EQ(signature.signature, read_file(dir / "header-signature.txt"));
    EXPECT_EQ(request.header("Authorization"), signature.authorization);

    auto const expected = parse_request(read_file(dir / "header-signed-request.txt"));
    EXPECT_EQ(request.method, expected.method);
    EXPECT_EQ(request.target, expected.target);
    EXPECT_EQ(header_set(request), header_set(expected));
    EXPECT_EQ(request.body, expected.body);
}

INSTANTIATE_TEST_SUITE_P(v4, sigv4_suite, testing::ValuesIn(normalized_suite_cases()),
                         [](testing::TestParamInfo<std::string> const& case_info) {
                             std::string name = case_info.param;
                             std::ranges::replace(name, '-', '_');
                             return name;
                         });

http_request ecr_request() {
    http_request request;
    request.method = "POST";
    request.target = "/";
    request.headers = {{"Host", "api.ecr.us-east-1.amazonaws.com"},
                       {"Content-Type", "application/x-amz-json-1.1"},
                       {"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"}};
    request.body = "{}";
    return request;
}

// The example of spec/aws.md §1, computed by botocore.
TEST(sigv4, signs_the_ecr_get_authorization_token_request) {
    auto request = ecr_request();
    sign_request(request, example_credentials(), "us-east-1", "ecr", example_time);

    EXPECT_EQ(request.header("X-Amz-Date"), "20150830T123600Z");
    EXPECT_EQ(request.header("Authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/aws4_request, "
              "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
              "Signature=527a2155e9afc2426cb4c659023df9c031e8103458f349819615ff25111f5de0");
    EXPECT_FALSE(request.header("X-Amz-Security-Token"));
}

TEST(sigv4, signs_the_session_token) {
    auto credentials = example_credentials();
    credentials.session_token = "session/token+value==";
    auto request = ecr_request();
    sign_request(request, credentials, "us-east-1", "ecr", example_time);

    EXPECT_EQ(request.header("X-Amz-Security-Token"), "session/token+value==");
    auto const authorization = std::string{request.header("Authorization").value_or("")};
    EXPECT_NE(authorization.find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"),
              std::string::npos);
}

TEST(sigv4, leaves_user_agent_hop_by_hop_and_trace_headers_unsigned) {
    auto plain = ecr_request();
    sign_request(plain, example_credentials(), "us-east-1", "ecr", example_time);

    auto decorated = ecr_request();
    decorated.headers.insert(decorated.headers.end(), {{"User-Agent", "rancher-ecr-credentials/0.1.0"},
                                                       {"Connection", "keep-alive"},
                                                       {"Expect", "100-continue"},
                                                       {"Transfer-Encoding", "chunked"},
                                                       {"X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"}});
    sign_request(decorated, example_credentials(), "us-east-1", "ecr", example_time);

    EXPECT_EQ(decorated.header("Authorization"), plain.header("Authorization"));
}

TEST(sigv4, signing_again_replaces_the_previous_signature) {
    auto request = ecr_request();
    sign_request(request, example_credentials(), "us-east-1", "ecr", example_time - std::chrono::hours{24});
    sign_request(request, example_credentials(), "us-east-1", "ecr", example_time);

    auto fresh = ecr_request();
    sign_request(fresh, example_credentials(), "us-east-1", "ecr", example_time);
    EXPECT_EQ(header_set(request), header_set(fresh));
}

TEST(sigv4, drops_fractions_of_a_second) {
    auto request = ecr_request();
    sign_request(request, example_credentials(), "us-east-1", "ecr", example_time + std::chrono::milliseconds{999});
    EXPECT_EQ(request.header("X-Amz-Date"), "20150830T123600Z");
}

TEST(sigv4, takes_the_payload_hash_from_x_amz_content_sha256) {
    auto request = ecr_request();
    request.headers.push_back({"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"});
    sign_request(request, example_credentials(), "us-east-1", "ecr", example_time);
    auto const canonical = compute_sigv4(request, example_credentials(), "us-east-1", "ecr").canonical_request;
    EXPECT_TRUE(canonical.ends_with("\nUNSIGNED-PAYLOAD"));
}

TEST(sigv4, refuses_a_request_without_host_and_keeps_the_secret_out_of_the_error) {
    auto request = ecr_request();
    request.headers.erase(request.headers.begin());
    try {
        sign_request(request, example_credentials(), "us-east-1", "ecr", example_time);
        FAIL() << "expected std::invalid_argument";
    } catch (std::invalid_argument const& e) {
        EXPECT_EQ(std::string_view{e.what()}.find(example_credentials().secret_access_key), std::string_view::npos);
    }
}

}  // namespace
}  // namespace rancher_ecr
