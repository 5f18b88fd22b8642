#include "net/proxy.hpp"

#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

#include "net/http_message.hpp"
#include "net/url.hpp"

namespace rancher_ecr {
namespace {

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

proxy_server proxy_of(std::string_view text) {
    auto parsed = parse_proxy_url(text);
    if (!parsed) {
        ADD_FAILURE() << text << ": unexpected failure: " << parsed.error().message;
        return {};
    }
    return *parsed;
}

// The message of the config failure that parsing `text` must cause.
std::string proxy_failure_of(std::string_view text) {
    auto parsed = parse_proxy_url(text);
    if (parsed) {
        ADD_FAILURE() << text << ": expected a failure, got " << parsed->where();
        return {};
    }
    EXPECT_EQ(parsed.error().kind, failure_kind::config) << text;
    EXPECT_FALSE(parsed.error().retryable) << text;
    return parsed.error().message;
}

no_proxy_rules rules_of(std::string_view text) {
    auto parsed = parse_no_proxy(text);
    if (!parsed) {
        ADD_FAILURE() << "\"" << text << "\": unexpected failure: " << parsed.error().message;
        return {};
    }
    return *parsed;
}

url url_of(std::string_view text) {
    auto parsed = parse_url(text);
    if (!parsed) {
        ADD_FAILURE() << text << ": unexpected failure: " << parsed.error().message;
        return {};
    }
    return *parsed;
}

// ---- basic_authorization -------------------------------------------------------------------------

TEST(basic_authorization, rfc_7617_example) {
    EXPECT_EQ(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST(basic_authorization, every_padding_length) {
    EXPECT_EQ(basic_authorization("a", "b"), "Basic YTpi");
    EXPECT_EQ(basic_authorization("ab", "c"), "Basic YWI6Yw==");
    EXPECT_EQ(basic_authorization("ab", "cd"), "Basic YWI6Y2Q=");
}

// ---- parse_proxy_url -----------------------------------------------------------------------------

TEST(parse_proxy_url, host_and_port) {
    auto proxy = proxy_of("http://proxy.example.com:3128");
    EXPECT_EQ(proxy.host, "proxy.example.com");
    EXPECT_EQ(proxy.port, 3128);
    EXPECT_EQ(proxy.authorization, "");
    EXPECT_EQ(proxy.where(), "proxy.example.com:3128");
}

TEST(parse_proxy_url, port_80_by_default) {
    auto proxy = proxy_of("http://proxy.example.com");
    EXPECT_EQ(proxy.host, "proxy.example.com");
    EXPECT_EQ(proxy.port, 80);
    EXPECT_EQ(proxy.where(), "proxy.example.com:80");
    EXPECT_EQ(proxy_of("http://10.0.0.5").port, 80);
}

TEST(parse_proxy_url, bare_host_and_port_is_taken_as_http) {
    auto proxy = proxy_of("proxy.corp:8080");
    EXPECT_EQ(proxy.host, "proxy.corp");
    EXPECT_EQ(proxy.port, 8080);
    EXPECT_EQ(proxy.authorization, "");
    auto bare = proxy_of("proxy.corp");
    EXPECT_EQ(bare.host, "proxy.corp");
    EXPECT_EQ(bare.port, 80);
}

TEST(parse_proxy_url, scheme_and_host_are_case_insensitive) {
    auto proxy = proxy_of("HTTP://Proxy.Example.COM:3128");
    EXPECT_EQ(proxy.host, "proxy.example.com");
    EXPECT_EQ(proxy.port, 3128);
    EXPECT_EQ(proxy_of("Http://PROXY").host, "proxy");
}

TEST(parse_proxy_url, ipv6_literal) {
    auto proxy = proxy_of("http://[fd00::1]:3128");
    EXPECT_EQ(proxy.host, "fd00::1");
    EXPECT_EQ(proxy.port, 3128);
    EXPECT_EQ(proxy.where(), "[fd00::1]:3128");
    auto defaulted = proxy_of("http://[FD00::AB]");
    EXPECT_EQ(defaulted.host, "fd00::ab");
    EXPECT_EQ(defaulted.where(), "[fd00::ab]:80");
}

TEST(parse_proxy_url, path_is_ignored) {
    for (auto text : {"http://proxy:3128/", "http://proxy:3128/some/path", "http://proxy:3128/?x=1", "proxy:3128/"}) {
        auto proxy = proxy_of(text);
        EXPECT_EQ(proxy.host, "proxy") << text;
        EXPECT_EQ(proxy.port, 3128) << text;
        EXPECT_EQ(proxy.where(), "proxy:3128") << text;
    }
}

TEST(parse_proxy_url, percent_encoded_credentials) {
    auto proxy = proxy_of("http://user:p%40ss%2Fw@proxy:3128");
    EXPECT_EQ(proxy.host, "proxy");
    EXPECT_EQ(proxy.port, 3128);
    EXPECT_EQ(proxy.authorization, basic_authorization("user", "p@ss/w"));
    EXPECT_EQ(proxy.where(), "proxy:3128");
    // The user name is decoded too, and hex digits may be of either case.
    EXPECT_EQ(proxy_of("http://do%6De%3aa:x%2f%2Fy@proxy").authorization, basic_authorization("dome:a", "x//y"));
}

TEST(parse_proxy_url, unencoded_at_and_slash_in_the_password) {
    // The last '@' ends the user info.
    auto proxy = proxy_of("http://user:p@ss/w@proxy:3128");
    EXPECT_EQ(proxy.host, "proxy");
    EXPECT_EQ(proxy.port, 3128);
    EXPECT_EQ(proxy.authorization, basic_authorization("user", "p@ss/w"));

    auto many = proxy_of("http://user:a@b@c@proxy.corp:8080/");
    EXPECT_EQ(many.host, "proxy.corp");
    EXPECT_EQ(many.port, 8080);
    EXPECT_EQ(many.authorization, basic_authorization("user", "a@b@c"));

    // Only the first ':' separates the user from the password.
    EXPECT_EQ(proxy_of("http://user:pa:ss@proxy").authorization, basic_authorization("user", "pa:ss"));
}

TEST(parse_proxy_url, credentials_on_a_bare_host) {
    auto proxy = proxy_of("user:secret@proxy.corp:8080");
    EXPECT_EQ(proxy.host, "proxy.corp");
    EXPECT_EQ(proxy.port, 8080);
    EXPECT_EQ(proxy.authorization, basic_authorization("user", "secret"));
}

TEST(parse_proxy_url, user_without_password) {
    auto proxy = proxy_of("http://user@proxy:3128");
    EXPECT_EQ(proxy.host, "proxy");
    EXPECT_EQ(proxy.authorization, basic_authorization("user", ""));
    EXPECT_EQ(proxy_of("http://user:@proxy:3128").authorization, basic_authorization("user", ""));
}

TEST(parse_proxy_url, credentials_with_ipv6) {
    auto proxy = proxy_of("http://user:pw@[fd00::1]:3128");
    EXPECT_EQ(proxy.host, "fd00::1");
    EXPECT_EQ(proxy.port, 3128);
    EXPECT_EQ(proxy.authorization, basic_authorization("user", "pw"));
    EXPECT_EQ(proxy.where(), "[fd00::1]:3128");
}

TEST(parse_proxy_url, where_never_shows_the_credentials) {
    auto proxy = proxy_of("http://user:hunter2secret@proxy:3128");
    EXPECT_FALSE(proxy.authorization.empty());
    EXPECT_EQ(proxy.where(), "proxy:3128");
    EXPECT_FALSE(contains(proxy.where(), "user"));
    EXPECT_FALSE(contains(proxy.where(), "hunter2secret"));
}

TEST(parse_proxy_url, https_proxies_are_refused) {
    auto message = proxy_failure_of("https://proxy.example.com:3128");
    EXPECT_TRUE(contains(message, "https")) << message;
    EXPECT_TRUE(contains(message, "http://")) << message;
    EXPECT_TRUE(contains(message, "proxy.example.com:3128")) << message;
    message = proxy_failure_of("HTTPS://proxy.example.com");
    EXPECT_TRUE(contains(message, "https")) << message;
}

TEST(parse_proxy_url, other_schemes_are_refused) {
    for (auto text : {"socks5://proxy:1080", "socks5h://proxy:1080", "ftp://proxy", "://proxy:3128"}) {
        auto message = proxy_failure_of(text);
        EXPECT_TRUE(contains(message, "http://")) << message;
        EXPECT_TRUE(contains(message, "proxy")) << message;
    }
}

TEST(parse_proxy_url, bad_hosts_and_ports_are_refused) {
    for (auto text : {"http://proxy:notaport", "http://proxy:0", "http://proxy:65536", "http://proxy:99999",
             "http://proxy:", "http://proxy:-1", "http://", "http://:3128", "http:///", "", "http://pro xy:3128",
             "http://[fd00::1", "http://[fd00::1]x", "http://u:p@", "http://u:p@:3128"}) {
        auto message = proxy_failure_of(text);
        EXPECT_TRUE(contains(message, "invalid proxy URL")) << text << ": " << message;
    }
}

TEST(parse_proxy_url, bad_percent_escapes_are_refused) {
    for (auto text : {"http://user:%zz@proxy:3128", "http://user:ab%4@proxy:3128", "http://user:ab%@proxy:3128",
             "http://us%g1er:pw@proxy:3128", "http://user:%4g@proxy"}) {
        auto message = proxy_failure_of(text);
        EXPECT_TRUE(contains(message, "'%'")) << text << ": " << message;
        EXPECT_TRUE(contains(message, "***@")) << text << ": " << message;
    }
}

TEST(parse_proxy_url, empty_user_is_refused) {
    for (auto text : {"http://:pw@proxy:3128", "http://@proxy:3128", "http://:@proxy"}) {
        auto message = proxy_failure_of(text);
        EXPECT_TRUE(contains(message, "user")) << text << ": " << message;
        EXPECT_TRUE(contains(message, "***@proxy")) << text << ": " << message;
    }
}

TEST(parse_proxy_url, no_failure_quotes_the_password) {
    constexpr std::string_view secret = "hunter2secret";
    for (auto text : {
             "https://u:hunter2secret@proxy:3128",
             "socks5://u:hunter2secret@proxy:1080",
             "http://u:hunter2secret@proxy:notaport",
             "http://u:hunter2secret@proxy:0",
             "http://u:hunter2secret@",
             "http://u:hunter2secret@:3128",
             "http://u:hunter2secret@pro xy",
             "http://u:hunter2secret@[fd00::1",
             "http://u:hunter2secret%zz@proxy:3128",
             "http://u:hunter2secret%4@proxy:3128",
             "http://:hunter2secret@proxy:3128",
             "http://u:hunter2/secret@proxy:notaport",
             "http://u:hunter2@secret@proxy:notaport",
             "u:hunter2secret@proxy:notaport",
             "https://u:hunter2/secret@proxy:3128",
             // Found by tests/fuzz/proxy_fuzz: a "://" after the '@' is no scheme of the URL.
             "u:hunter2secret@proxy:3128/http://x",
             "HT@TP:hunter2secret@proxy://x",
         }) {
        auto message = proxy_failure_of(text);
        ASSERT_FALSE(message.empty()) << text;
        EXPECT_FALSE(contains(message, secret)) << text << ": " << message;
        EXPECT_FALSE(contains(message, "hunter2")) << text << ": " << message;
        EXPECT_FALSE(contains(message, "secret@")) << text << ": " << message;
        EXPECT_TRUE(contains(message, "***@")) << text << ": " << message;
    }
}

TEST(parse_proxy_url, failure_quotes_the_host_part) {
    auto message = proxy_failure_of("http://u:hunter2secret@proxy.corp:notaport");
    EXPECT_TRUE(contains(message, "http://***@proxy.corp:notaport")) << message;
}

// ---- parse_no_proxy and no_proxy_rules::matches ---------------------------------------------------

TEST(no_proxy, empty_list_matches_nothing) {
    for (auto text : {"", " ", ",", " , ,"}) {
        auto rules = rules_of(text);
        EXPECT_TRUE(rules.empty()) << "\"" << text << "\"";
        EXPECT_FALSE(rules.matches("example.com", 443)) << "\"" << text << "\"";
        EXPECT_FALSE(rules.matches("10.0.0.1", 80)) << "\"" << text << "\"";
    }
}

TEST(no_proxy, star_matches_everything) {
    auto rules = rules_of("*");
    EXPECT_FALSE(rules.empty());
    EXPECT_TRUE(rules.matches("example.com", 443));
    EXPECT_TRUE(rules.matches("10.1.2.3", 80));
    EXPECT_TRUE(rules.matches("fd00::1", 8080));
    EXPECT_TRUE(rules.matches("localhost", 1));
    EXPECT_TRUE(rules_of("a.com, *").matches("b.org", 443));
}

TEST(no_proxy, domain_matches_itself_and_its_subdomains) {
    auto rules = rules_of("example.com");
    EXPECT_FALSE(rules.empty());
    EXPECT_TRUE(rules.matches("example.com", 443));
    EXPECT_TRUE(rules.matches("a.example.com", 443));
    EXPECT_TRUE(rules.matches("b.a.example.com", 80));
    EXPECT_TRUE(rules.matches("A.EXAMPLE.COM.", 443));
    EXPECT_TRUE(rules.matches("Example.Com", 443));
    EXPECT_FALSE(rules.matches("badexample.com", 443));
    EXPECT_FALSE(rules.matches("example.com.evil", 443));
    EXPECT_FALSE(rules.matches("example.co", 443));
    EXPECT_FALSE(rules.matches("com", 443));
    EXPECT_FALSE(rules.matches("xample.com", 443));
    EXPECT_FALSE(rules.matches("", 443));
}

TEST(no_proxy, leading_dot_and_star_dot_are_the_same_as_the_bare_domain) {
    for (auto text : {".example.com", "*.example.com", "EXAMPLE.COM", "example.com."}) {
        auto rules = rules_of(text);
        EXPECT_TRUE(rules.matches("example.com", 443)) << text;
        EXPECT_TRUE(rules.matches("a.example.com", 443)) << text;
        EXPECT_TRUE(rules.matches("A.Example.Com.", 80)) << text;
        EXPECT_FALSE(rules.matches("badexample.com", 443)) << text;
        EXPECT_FALSE(rules.matches("example.com.evil", 443)) << text;
        EXPECT_FALSE(rules.matches("other.com", 443)) << text;
    }
}

TEST(no_proxy, ipv4_address_matches_exactly) {
    auto rules = rules_of("10.0.0.1");
    EXPECT_TRUE(rules.matches("10.0.0.1", 80));
    EXPECT_TRUE(rules.matches("10.0.0.1", 443));
    EXPECT_TRUE(rules.matches("10.0.0.1", 65535));
    EXPECT_FALSE(rules.matches("10.0.0.2", 80));
    EXPECT_FALSE(rules.matches("10.0.0.10", 80));
    EXPECT_FALSE(rules.matches("110.0.0.1", 80));
    // An address entry is not a domain suffix.
    EXPECT_FALSE(rules.matches("a.10.0.0.1", 80));
    EXPECT_FALSE(rules.matches("::ffff:10.0.0.2", 80));
}

TEST(no_proxy, ipv4_cidr_ranges) {
    auto rules = rules_of("10.0.0.0/8");
    EXPECT_TRUE(rules.matches("10.0.0.0", 443));
    EXPECT_TRUE(rules.matches("10.1.2.3", 443));
    EXPECT_TRUE(rules.matches("10.255.255.255", 443));
    EXPECT_FALSE(rules.matches("11.0.0.1", 443));
    EXPECT_FALSE(rules.matches("9.255.255.255", 443));
    EXPECT_FALSE(rules.matches("fd00::1", 443));
    EXPECT_FALSE(rules.matches("ten.example.com", 443));

    auto odd = rules_of("192.168.4.0/22");
    EXPECT_TRUE(odd.matches("192.168.4.1", 80));
    EXPECT_TRUE(odd.matches("192.168.7.254", 80));
    EXPECT_FALSE(odd.matches("192.168.8.1", 80));
    EXPECT_FALSE(odd.matches("192.168.3.255", 80));

    auto all_v4 = rules_of("0.0.0.0/0");
    EXPECT_TRUE(all_v4.matches("1.2.3.4", 80));
    EXPECT_TRUE(all_v4.matches("255.255.255.255", 80));
    EXPECT_FALSE(all_v4.matches("::1", 80));
    EXPECT_FALSE(all_v4.matches("example.com", 80));

    auto single = rules_of("10.1.2.3/32");
    EXPECT_TRUE(single.matches("10.1.2.3", 80));
    EXPECT_FALSE(single.matches("10.1.2.4", 80));
    EXPECT_FALSE(single.matches("10.1.2.2", 80));
}

TEST(no_proxy, ipv6_addresses_and_ranges) {
    auto range = rules_of("fd00::/8");
    EXPECT_TRUE(range.matches("fd12::1", 443));
    EXPECT_TRUE(range.matches("fd00::1", 443));
    EXPECT_TRUE(range.matches("FDFF:1::2", 443));
    EXPECT_FALSE(range.matches("fe80::1", 443));
    EXPECT_FALSE(range.matches("fc00::1", 443));
    EXPECT_FALSE(range.matches("10.0.0.1", 443));

    auto loopback = rules_of("::1");
    EXPECT_TRUE(loopback.matches("::1", 8080));
    EXPECT_TRUE(loopback.matches("0:0:0:0:0:0:0:1", 8080));
    EXPECT_FALSE(loopback.matches("::2", 8080));
    EXPECT_FALSE(loopback.matches("127.0.0.1", 8080));
    EXPECT_FALSE(loopback.matches("localhost", 8080));

    auto all_v6 = rules_of("::/0");
    EXPECT_TRUE(all_v6.matches("2001:db8::1", 443));
    EXPECT_FALSE(all_v6.matches("10.0.0.1", 443));

    auto prefix_64 = rules_of("2001:db8:1:2::/64");
    EXPECT_TRUE(prefix_64.matches("2001:db8:1:2:ffff::1", 443));
    EXPECT_FALSE(prefix_64.matches("2001:db8:1:3::1", 443));

    auto full = rules_of("fd00::5/128");
    EXPECT_TRUE(full.matches("fd00::5", 443));
    EXPECT_FALSE(full.matches("fd00::6", 443));
}

TEST(no_proxy, host_with_port_matches_that_port_only) {
    auto rules = rules_of("example.com:8443");
    EXPECT_TRUE(rules.matches("example.com", 8443));
    EXPECT_TRUE(rules.matches("a.example.com", 8443));
    EXPECT_FALSE(rules.matches("example.com", 443));
    EXPECT_FALSE(rules.matches("example.com", 80));
    EXPECT_FALSE(rules.matches("other.com", 8443));

    auto v4 = rules_of("10.0.0.1:80");
    EXPECT_TRUE(v4.matches("10.0.0.1", 80));
    EXPECT_FALSE(v4.matches("10.0.0.1", 443));
    EXPECT_FALSE(v4.matches("10.0.0.2", 80));

    auto v6 = rules_of("[::1]:8080");
    EXPECT_TRUE(v6.matches("::1", 8080));
    EXPECT_FALSE(v6.matches("::1", 8081));
    EXPECT_FALSE(v6.matches("::2", 8080));

    auto v6_no_port = rules_of("[fd00::1]");
    EXPECT_TRUE(v6_no_port.matches("fd00::1", 1));
    EXPECT_TRUE(v6_no_port.matches("fd00::1", 443));

    auto v6_range_port = rules_of("[fd00::/8]:443");
    EXPECT_TRUE(v6_range_port.matches("fd12::1", 443));
    EXPECT_FALSE(v6_range_port.matches("fd12::1", 80));
}

TEST(no_proxy, spaces_and_empty_entries_are_ignored) {
    auto rules = rules_of("  a.com , ,b.com ");
    EXPECT_TRUE(rules.matches("a.com", 443));
    EXPECT_TRUE(rules.matches("x.a.com", 443));
    EXPECT_TRUE(rules.matches("b.com", 443));
    EXPECT_FALSE(rules.matches("c.com", 443));
    EXPECT_FALSE(rules.matches(" a.com", 443));

    auto tabs = rules_of("\ta.com,\t10.0.0.0/8\t,,");
    EXPECT_TRUE(tabs.matches("a.com", 443));
    EXPECT_TRUE(tabs.matches("10.9.9.9", 443));
}

TEST(no_proxy, mixed_list) {
    auto rules = rules_of("localhost,127.0.0.1,.svc.cluster.local,169.254.0.0/16,[fd00::1]:9000,internal:8080");
    EXPECT_TRUE(rules.matches("localhost", 80));
    EXPECT_TRUE(rules.matches("127.0.0.1", 8443));
    EXPECT_TRUE(rules.matches("rancher.cattle-system.svc.cluster.local", 443));
    EXPECT_TRUE(rules.matches("169.254.170.2", 80));
    EXPECT_TRUE(rules.matches("fd00::1", 9000));
    EXPECT_FALSE(rules.matches("fd00::1", 9001));
    EXPECT_TRUE(rules.matches("internal", 8080));
    EXPECT_FALSE(rules.matches("internal", 80));
    EXPECT_FALSE(rules.matches("api.ecr.us-east-1.amazonaws.com", 443));
    EXPECT_FALSE(rules.matches("127.0.0.2", 80));
}

TEST(no_proxy, names_are_not_resolved) {
    auto by_address = rules_of("127.0.0.1");
    EXPECT_FALSE(by_address.matches("localhost", 80));
    EXPECT_TRUE(by_address.matches("127.0.0.1", 80));
    auto by_name = rules_of("localhost");
    EXPECT_FALSE(by_name.matches("127.0.0.1", 80));
    EXPECT_FALSE(by_name.matches("::1", 80));
    EXPECT_TRUE(by_name.matches("localhost", 80));
}

TEST(no_proxy, bad_entries_are_named) {
    for (auto entry : {"10.0.0.0/33", "fd00::/129", "host:0", "host:99999", "host:", "host:8x", "exa mple.com",
             "[::1", "a/b", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "[::1]8080", "[::1]:0", "[::1]:",
             "exa$mple.com", "*.", ":80", "."}) {
        auto parsed = parse_no_proxy(std::string{"good.example.com, "} + entry + " ,10.0.0.0/8");
        ASSERT_FALSE(parsed) << entry;
        EXPECT_EQ(parsed.error().kind, failure_kind::config) << entry;
        EXPECT_FALSE(parsed.error().retryable) << entry;
        auto const& message = parsed.error().message;
        EXPECT_TRUE(contains(message, std::string{"\""} + entry + "\"")) << entry << ": " << message;
        EXPECT_FALSE(contains(message, "good.example.com,")) << entry << ": " << message;
    }
}

TEST(no_proxy, bad_entries_say_what_is_wrong) {
    auto message_of = [](std::string_view text) {
        auto parsed = parse_no_proxy(text);
        return parsed ? std::string{} : parsed.error().message;
    };
    EXPECT_TRUE(contains(message_of("10.0.0.0/33"), "0 to 32")) << message_of("10.0.0.0/33");
    EXPECT_TRUE(contains(message_of("fd00::/129"), "0 to 128")) << message_of("fd00::/129");
    EXPECT_TRUE(contains(message_of("host:0"), "1 to 65535")) << message_of("host:0");
    EXPECT_TRUE(contains(message_of("host:99999"), "1 to 65535")) << message_of("host:99999");
    EXPECT_TRUE(contains(message_of("[::1"), "'['")) << message_of("[::1");
    EXPECT_TRUE(contains(message_of("a/b"), "CIDR")) << message_of("a/b");
}

// ---- proxy_settings::proxy_for and describe_route ------------------------------------------------

proxy_settings both_proxies(std::string_view no_proxy = "") {
    proxy_settings proxies;
    proxies.https = proxy_of("http://user:hunter2secret@secure-proxy:3128");
    proxies.http = proxy_of("http://plain-proxy:8080");
    proxies.no_proxy = rules_of(no_proxy);
    return proxies;
}

TEST(proxy_for, picks_the_proxy_of_the_scheme) {
    auto proxies = both_proxies();
    EXPECT_TRUE(proxies.any());
    EXPECT_EQ(proxies.proxy_for(url_of("https://api.ecr.us-east-1.amazonaws.com/")), &*proxies.https);
    EXPECT_EQ(proxies.proxy_for(url_of("http://rancher.example.com:8080/v2-beta")), &*proxies.http);
}

TEST(proxy_for, none_set_goes_direct) {
    proxy_settings none;
    EXPECT_FALSE(none.any());
    EXPECT_EQ(none.proxy_for(url_of("https://api.ecr.us-east-1.amazonaws.com/")), nullptr);
    EXPECT_EQ(none.proxy_for(url_of("http://rancher.example.com/")), nullptr);

    proxy_settings only_https;
    only_https.https = proxy_of("http://proxy:3128");
    EXPECT_TRUE(only_https.any());
    EXPECT_EQ(only_https.proxy_for(url_of("https://example.com/")), &*only_https.https);
    EXPECT_EQ(only_https.proxy_for(url_of("http://example.com/")), nullptr);

    proxy_settings only_http;
    only_http.http = proxy_of("http://proxy:3128");
    EXPECT_TRUE(only_http.any());
    EXPECT_EQ(only_http.proxy_for(url_of("http://example.com/")), &*only_http.http);
    EXPECT_EQ(only_http.proxy_for(url_of("https://example.com/")), nullptr);
}

TEST(proxy_for, no_proxy_match_goes_direct) {
    auto proxies = both_proxies("example.com, 10.0.0.0/8, other.org:8443");
    EXPECT_EQ(proxies.proxy_for(url_of("https://example.com/")), nullptr);
    EXPECT_EQ(proxies.proxy_for(url_of("http://rancher.example.com/")), nullptr);
    EXPECT_EQ(proxies.proxy_for(url_of("https://10.2.3.4:8443/")), nullptr);
    EXPECT_NE(proxies.proxy_for(url_of("https://11.2.3.4/")), nullptr);
    EXPECT_NE(proxies.proxy_for(url_of("https://badexample.com/")), nullptr);
    // The port of the target, its scheme's default included, is what a host:port entry compares.
    EXPECT_EQ(proxies.proxy_for(url_of("https://other.org:8443/")), nullptr);
    EXPECT_EQ(proxies.proxy_for(url_of("https://other.org/")), &*proxies.https);

    auto by_default_port = both_proxies("example.com:443");
    EXPECT_EQ(by_default_port.proxy_for(url_of("https://example.com/")), nullptr);
    EXPECT_NE(by_default_port.proxy_for(url_of("http://example.com/")), nullptr);

    EXPECT_EQ(both_proxies("*").proxy_for(url_of("https://anything.example/")), nullptr);
}

TEST(proxy_for, loopback_is_not_special) {
    auto proxies = both_proxies();
    EXPECT_EQ(proxies.proxy_for(url_of("http://127.0.0.1:8080/")), &*proxies.http);
    EXPECT_EQ(proxies.proxy_for(url_of("https://127.0.0.1:8443/")), &*proxies.https);
    EXPECT_EQ(proxies.proxy_for(url_of("http://[::1]:8080/")), &*proxies.http);
    EXPECT_EQ(proxies.proxy_for(url_of("http://localhost:8080/")), &*proxies.http);

    auto covered = both_proxies("127.0.0.1,::1");
    EXPECT_EQ(covered.proxy_for(url_of("http://127.0.0.1:8080/")), nullptr);
    EXPECT_EQ(covered.proxy_for(url_of("http://[::1]:8080/")), nullptr);
    EXPECT_NE(covered.proxy_for(url_of("http://localhost:8080/")), nullptr);
}

TEST(proxy_for, the_hosts_own_link_is_never_proxied) {
    auto proxies = both_proxies();
    for (auto target : {"http://169.254.169.254/latest/api/token", "http://169.254.170.2/v2/credentials/x",
             "http://169.254.170.23/v1/credentials", "https://169.254.0.1/", "http://169.254.255.255/",
             "http://[fd00:ec2::254]/latest", "http://[fd00:ec2::23]/v1/credentials",
             "http://[FD00:EC2::254]/latest", "http://[fe80::1]/", "https://[fe80::1]:8443/",
             "http://[febf:ffff::1]/"}) {
        EXPECT_EQ(proxies.proxy_for(url_of(target)), nullptr) << target;
        EXPECT_EQ(describe_route(proxies, url_of(target)), "direct") << target;
    }
}

TEST(proxy_for, neighbours_of_the_link_are_proxied) {
    auto proxies = both_proxies();
    for (auto target : {"http://169.253.169.254/", "http://169.255.0.1/", "http://170.254.169.254/",
             "http://[fd00:ec2::253]/", "http://[fd00:ec2::255]/", "http://[fd00:ec2::22]/",
             "http://[fd00:ec3::254]/", "http://[fec0::1]/", "http://[fe7f::1]/"}) {
        EXPECT_EQ(proxies.proxy_for(url_of(target)), &*proxies.http) << target;
    }
}

TEST(describe_route, names_the_proxy_without_credentials) {
    auto proxies = both_proxies("direct.example.com");
    auto route = describe_route(proxies, url_of("https://api.ecr.us-east-1.amazonaws.com/"));
    EXPECT_EQ(route, "through the proxy secure-proxy:3128");
    EXPECT_FALSE(contains(route, "hunter2secret")) << route;
    EXPECT_FALSE(contains(route, "user")) << route;
    EXPECT_FALSE(contains(route, "Basic")) << route;
    EXPECT_EQ(describe_route(proxies, url_of("http://rancher.example.com/")), "through the proxy plain-proxy:8080");
    EXPECT_EQ(describe_route(proxies, url_of("https://direct.example.com/")), "direct");
    EXPECT_EQ(describe_route(proxy_settings{}, url_of("https://api.ecr.us-east-1.amazonaws.com/")), "direct");

    proxy_settings v6;
    v6.https = proxy_of("http://u:pw@[fd00::1]:3128");
    EXPECT_EQ(describe_route(v6, url_of("https://example.com/")), "through the proxy [fd00::1]:3128");
}

}  // namespace
}  // namespace rancher_ecr
