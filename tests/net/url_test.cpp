#include "net/url.hpp"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

TEST(parse_url, splits_scheme_host_port_and_target) {
    auto parsed = parse_url("HTTPS://Rancher.Example.COM:8443/v2-beta/projects/1a5?x=1#frag");
    ASSERT_TRUE(parsed) << describe(parsed.error());
    EXPECT_EQ(parsed->scheme, "https");
    EXPECT_EQ(parsed->host, "rancher.example.com");
    EXPECT_EQ(parsed->port, 8443);
    EXPECT_EQ(parsed->target, "/v2-beta/projects/1a5?x=1");
    EXPECT_TRUE(parsed->uses_tls());
    EXPECT_EQ(parsed->authority(), "rancher.example.com:8443");
    EXPECT_EQ(parsed->text(), "https://rancher.example.com:8443/v2-beta/projects/1a5?x=1");
}

TEST(parse_url, defaults_port_and_target) {
    auto http = parse_url("http://127.0.0.1");
    ASSERT_TRUE(http);
    EXPECT_EQ(http->port, 80);
    EXPECT_EQ(http->target, "/");
    EXPECT_EQ(http->authority(), "127.0.0.1");
    auto https = parse_url("https://api.ecr.us-east-1.amazonaws.com");
    ASSERT_TRUE(https);
    EXPECT_EQ(https->port, 443);
    EXPECT_EQ(https->origin(), "https://api.ecr.us-east-1.amazonaws.com");
}

TEST(parse_url, query_without_path_gets_a_slash) {
    auto parsed = parse_url("http://host:5000?a=b");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->target, "/?a=b");
}

TEST(parse_url, ipv6_literal) {
    auto parsed = parse_url("http://[::1]:8080/v1");
    ASSERT_TRUE(parsed) << describe(parsed.error());
    EXPECT_EQ(parsed->host, "::1");
    EXPECT_EQ(parsed->port, 8080);
    EXPECT_EQ(parsed->authority(), "[::1]:8080");
}

class parse_url_rejects : public testing::TestWithParam<std::pair<char const*, char const*>> {};

TEST_P(parse_url_rejects, with_a_reason) {
    auto [text, reason] = GetParam();
    auto parsed = parse_url(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().kind, failure_kind::config);
    EXPECT_NE(parsed.error().message.find(reason), std::string::npos) << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    bad_urls, parse_url_rejects,
    testing::Values(std::pair{"", "expected http://"}, std::pair{"rancher:8080", "expected http://"},
                    std::pair{"ftp://host", "scheme must be http or https"},
                    std::pair{"http://", "missing host"}, std::pair{"http://:80/", "missing host"},
                    std::pair{"http://host:0", "port must be"}, std::pair{"http://host:65536", "port must be"},
                    std::pair{"http://host:8x", "port must be"}, std::pair{"http://host:", "empty port"},
                    std::pair{"http://ho st/", "invalid character"},
                    std::pair{"http://[::1", "unterminated IPv6"},
                    std::pair{"http://host/a b", "spaces or control"}));

TEST(parse_url, refuses_user_info_without_quoting_the_secret) {
    auto parsed = parse_url("https://access:s3cr3t@rancher/v1");
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.error().message.find("credentials in the URL are not accepted"), std::string::npos);
    EXPECT_NE(parsed.error().message.find("https://***@rancher/v1"), std::string::npos) << parsed.error().message;
    EXPECT_EQ(parsed.error().message.find("s3cr3t"), std::string::npos) << parsed.error().message;

    // A secret holding '/' ends the authority early; it must still not be quoted.
    auto slashed = parse_url("https://access:se/cr3t@rancher:8080/v1");
    ASSERT_FALSE(slashed);
    EXPECT_EQ(slashed.error().message.find("cr3t"), std::string::npos) << slashed.error().message;
}

// Found by tests/fuzz/url_fuzz and config_fuzz: the message quoted control characters as they
// stood, which can garble a log line or forge one (CATTLE_URL="http\x01\x00...").
TEST(parse_url, quotes_control_characters_escaped) {
    auto parsed = parse_url(std::string{"http\x01\x00\x00\x1f://api\n2026-01-01 forged line", 37});
    ASSERT_FALSE(parsed);
    auto const& message = parsed.error().message;
    EXPECT_TRUE(std::ranges::none_of(message, [](unsigned char c) { return c < 0x20 || c == 0x7f; })) << message;
    EXPECT_NE(message.find("'http\\x01\\x00\\x00\\x1f://api\\x0a2026-01-01 forged line'"), std::string::npos)
        << message;
    auto long_url = parse_url("ftp://" + std::string(300, 'a'));
    ASSERT_FALSE(long_url);
    EXPECT_LT(long_url.error().message.size(), 300u) << long_url.error().message;
}

TEST(without_user_info, masks_up_to_the_last_at_sign) {
    EXPECT_EQ(without_user_info("http://u:p@host/x"), "http://***@host/x");
    EXPECT_EQ(without_user_info("http://u:p/q@r@host"), "http://***@host");
    EXPECT_EQ(without_user_info("http://host/path"), "http://host/path");
    EXPECT_EQ(without_user_info("u:p@host:3128"), "***@host:3128");
    // Found by tests/fuzz/proxy_fuzz: a "://" that no scheme stands before does not start the
    // authority, so the credentials before the '@' are still masked.
    EXPECT_EQ(without_user_info("u:secret@host:3128/http://x"), "***@host:3128/http://x");
    EXPECT_EQ(without_user_info("ht@tp:secret@host://x"), "***@host://x");
    EXPECT_EQ(without_user_info("svn+ssh://u:p@host"), "svn+ssh://***@host");
}

}  // namespace
}  // namespace rancher_ecr
