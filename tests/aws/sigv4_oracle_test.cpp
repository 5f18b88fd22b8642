// Property test: random requests (tests/aws/sigv4_oracle.py) signed by botocore and by us must
// give the same canonical request, string to sign, Authorization header and signed headers.
#include "aws/sigv4.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

constexpr int oracle_seed = 20150830;
constexpr std::size_t oracle_cases = 300;
constexpr std::size_t reported_cases = 10;  // details for the first failing ones only

std::string const oracle_command = "python3 '" TESTS_SOURCE_DIR "/aws/sigv4_oracle.py' --seed " +
                                   std::to_string(oracle_seed) + " --count " + std::to_string(oracle_cases);

struct oracle_output {
    std::vector<std::string> lines;
    int status = -1;  // as pclose returns it; 0 when python3 ran the script to the end
};

oracle_output run_oracle() {
    oracle_output out;
    FILE* pipe = popen(oracle_command.c_str(), "r");
    if (pipe == nullptr) return out;
    std::string line;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
        line += buffer.data();
        if (line.back() == '\n') {
            line.pop_back();
            out.lines.push_back(std::move(line));
            line.clear();
        }
    }
    if (!line.empty()) out.lines.push_back(std::move(line));
    out.status = pclose(pipe);
    return out;
}

std::string string_of(boost::json::value const& value) { return std::string{value.as_string()}; }

std::string from_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(std::string{hex.substr(i, 2)}, nullptr, 16));
    return out;
}

std::vector<http_header> headers_of(boost::json::value const& list) {
    std::vector<http_header> out;
    for (auto const& pair : list.as_array())
        out.push_back({string_of(pair.as_array().at(0)), string_of(pair.as_array().at(1))});
    return out;
}

// Headers as a sorted list of (lowercase name, value), to compare regardless of order.
std::vector<std::pair<std::string, std::string>> header_set(std::vector<http_header> const& headers) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto const& [name, value] : headers) {
        std::string lower = name;
        std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        out.emplace_back(std::move(lower), value);
    }
    std::ranges::sort(out);
    return out;
}

std::string header_listing(std::vector<std::pair<std::string, std::string>> const& headers) {
    std::string out;
    for (auto const& [name, value] : headers) out += "\n    " + name + ": " + value;
    return out;
}

// Signs one oracle case with our signer; returns what differs from botocore, empty if nothing.
std::string compare_with_botocore(boost::json::object const& oracle) {
    http_request request;
    request.method = string_of(oracle.at("method"));
    request.target = string_of(oracle.at("target"));
    request.headers = headers_of(oracle.at("headers"));
    request.body = from_hex(string_of(oracle.at("body_hex")));
    aws_credentials credentials;
    credentials.access_key_id = string_of(oracle.at("access_key_id"));
    credentials.secret_access_key = string_of(oracle.at("secret_access_key"));
    credentials.session_token = string_of(oracle.at("session_token"));
    auto const region = string_of(oracle.at("region"));
    auto const service = string_of(oracle.at("service"));
    auto const now = std::chrono::system_clock::time_point{std::chrono::seconds{oracle.at("time").to_number<std::int64_t>()}};

    sign_request(request, credentials, region, service, now);
    auto const ours = compute_sigv4(request, credentials, region, service);

    std::string difference;
    auto check = [&](std::string_view what, std::string const& theirs, std::string const& mine) {
        if (theirs != mine) difference += std::string{what} + ":\n  botocore: " + theirs + "\n  ours:     " + mine + "\n";
    };
    check("canonical request", string_of(oracle.at("canonical_request")), ours.canonical_request);
    check("string to sign", string_of(oracle.at("string_to_sign")), ours.string_to_sign);
    check("authorization", string_of(oracle.at("authorization")), std::string{request.header("Authorization").value_or("")});
    check("headers after signing", header_listing(header_set(headers_of(oracle.at("signed_headers")))),
          header_listing(header_set(request.headers)));
    return difference;
}

TEST(sigv4_oracle, matches_botocore_on_random_requests) {
    auto const oracle = run_oracle();
    // No skipping: without python3 and botocore this test has no oracle and must say so.
    ASSERT_EQ(oracle.status, 0) << "the oracle failed (is python3 with botocore installed?): " << oracle_command;
    ASSERT_EQ(oracle.lines.size(), oracle_cases) << "the oracle printed too few cases: " << oracle_command;

    std::size_t failing = 0;
    for (auto const& line : oracle.lines) {
        auto const difference = compare_with_botocore(boost::json::parse(line).as_object());
        if (!difference.empty() && ++failing <= reported_cases)
            ADD_FAILURE() << "differs from botocore (seed " << oracle_seed << "): " << line << "\n" << difference;
    }
    EXPECT_EQ(failing, 0U) << "cases differing from botocore, out of " << oracle_cases;
}

}  // namespace
}  // namespace rancher_ecr
