// The HTTPS client through a real proxy (Debian's squid on loopback): CONNECT tunnels with TLS
// end to end, plain HTTP in absolute form, proxy authentication, a proxy that is down, silent or
// refusing, and NO_PROXY.
#include "net/https_client.hpp"

#include <algorithm>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/loopback_server.hpp"
#include "support/run_with_deadline.hpp"
#include "support/test_pki.hpp"
#include "support/squid_proxy.hpp"

namespace rancher_ecr {
namespace {

using rancher_ecr::testing::eventually;
using rancher_ecr::testing::loopback_server;
using rancher_ecr::testing::make_test_pki;
using rancher_ecr::testing::run_with_deadline;
using rancher_ecr::testing::scripted_answer;
using rancher_ecr::testing::squid_proxy;

constexpr char proxy_user[] = "proxy-user";
constexpr char proxy_password[] = "Pr0xy.pass_word-9";

scripted_answer answer(int status, std::string body) {
    return scripted_answer{scripted_answer::action::respond,
                           http_response{status, {{"Content-Type", "text/plain"}}, std::move(body)}, {}};
}

bool contains(std::string const& text, std::string const& part) { return text.find(part) != std::string::npos; }

url endpoint(std::string const& text) {
    auto parsed = parse_url(text);
    EXPECT_TRUE(parsed) << text;
    return *parsed;
}

proxy_server proxy_at(std::string const& proxy_url) {
    auto parsed = parse_proxy_url(proxy_url);
    EXPECT_TRUE(parsed) << proxy_url;
    return *parsed;
}

std::size_t count_starting_with(std::vector<std::string> const& lines, std::string const& prefix) {
    return static_cast<std::size_t>(std::ranges::count_if(lines, [&](auto const& l) { return l.starts_with(prefix); }));
}

class https_client_proxy_test : public ::testing::Test {
protected:
    result<http_response> send(https_client& client, url const& where, http_request request = {}) {
        request.target = where.target;
        return run_with_deadline(context_, client.send(where, std::move(request)));
    }

    // A client that trusts `ca_file` (when given) and goes through `https` and `http` proxies.
    https_client make_client(std::optional<proxy_server> https, std::optional<proxy_server> http,
                             std::string const& ca_file = {}, std::string const& no_proxy = {}) {
        https_client_options options;
        options.connect_timeout = std::chrono::seconds{5};
        options.request_timeout = std::chrono::seconds{10};
        if (!ca_file.empty()) options.trust = std::make_shared<tls_trust>(ca_file);
        options.proxies.https = std::move(https);
        options.proxies.http = std::move(http);
        auto rules = parse_no_proxy(no_proxy);
        EXPECT_TRUE(rules);
        options.proxies.no_proxy = *rules;
        return https_client{context_.get_executor(), std::move(options)};
    }

    boost::asio::io_context context_;
};

TEST_F(https_client_proxy_test, tls_through_a_connect_tunnel_verifies_the_target_and_keeps_the_tunnel_alive) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server server{[](http_request const& r) { return answer(200, "secure " + r.target); }, pki};
    squid_proxy proxy;
    auto client = make_client(proxy_at(proxy.url()), std::nullopt, pki.ca_file);
    auto const port = std::to_string(server.port());
    for (int i = 0; i < 3; ++i) {
        auto response = send(client, endpoint("https://localhost:" + port + "/v" + std::to_string(i)));
        ASSERT_TRUE(response) << describe(response.error()) << "\n" << proxy.log();
        EXPECT_EQ(response->body, "secure /v" + std::to_string(i));
    }
    // One tunnel for the origin, reused: one CONNECT, one TLS connection at the target. Squid logs
    // the tunnel once it is closed.
    EXPECT_EQ(client.connections_opened(), 1u);
    client.close_idle_connections();
    ASSERT_TRUE(eventually([&] { return !proxy.requests().empty(); })) << proxy.log();
    EXPECT_EQ(proxy.requests(), std::vector<std::string>{"CONNECT localhost:" + port + " 200"}) << proxy.log();
    EXPECT_EQ(server.connections_accepted(), 1u);
    auto seen = server.requests();
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].target, "/v0");  // origin form inside the tunnel
    EXPECT_EQ(seen[0].header("host"), "localhost:" + port);
    EXPECT_FALSE(seen[0].header("proxy-authorization"));
}

TEST_F(https_client_proxy_test, a_tunnel_does_not_excuse_a_certificate_for_another_host_name) {
    auto pki = make_test_pki({"registry.example.test"}, {});
    loopback_server server{[](http_request const&) { return answer(200, "should not arrive"); }, pki};
    squid_proxy proxy;
    auto client = make_client(proxy_at(proxy.url()), std::nullopt, pki.ca_file);
    auto response = send(client, endpoint("https://localhost:" + std::to_string(server.port()) + "/"));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::tls);
    EXPECT_FALSE(response.error().retryable);
    EXPECT_TRUE(contains(response.error().message, "hostname mismatch")) << response.error().message;
    EXPECT_TRUE(contains(response.error().message, "through the proxy 127.0.0.1:" + std::to_string(proxy.port())))
        << response.error().message;
    ASSERT_TRUE(eventually([&] { return !proxy.requests().empty(); })) << proxy.log();
    EXPECT_EQ(count_starting_with(proxy.requests(), "CONNECT localhost:"), 1u) << proxy.log();
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(https_client_proxy_test, plain_http_goes_to_the_proxy_in_absolute_form) {
    loopback_server server{[](http_request const& r) { return answer(201, "got " + r.method + " " + r.body); }};
    squid_proxy proxy;
    auto client = make_client(std::nullopt, proxy_at(proxy.url()));
    http_request request;
    request.method = "POST";
    request.body = "{}";
    auto const where = "http://127.0.0.1:" + std::to_string(server.port()) + "/v2-beta/registries?limit=100";
    auto response = send(client, endpoint(where), request);
    ASSERT_TRUE(response) << describe(response.error()) << "\n" << proxy.log();
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(response->body, "got POST {}");
    client.close_idle_connections();
    ASSERT_TRUE(eventually([&] { return !proxy.requests().empty(); })) << proxy.log();
    EXPECT_EQ(proxy.requests(), std::vector<std::string>{"POST " + where + " 201"}) << proxy.log();
    auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].target, "/v2-beta/registries?limit=100");  // the proxy forwards it in origin form
}

TEST_F(https_client_proxy_test, the_https_proxy_is_not_used_for_http_targets_nor_the_http_proxy_for_https) {
    loopback_server server{[](http_request const&) { return answer(200, "direct"); }};
    squid_proxy proxy;
    auto client = make_client(proxy_at(proxy.url()), std::nullopt);
    auto response = send(client, endpoint("http://127.0.0.1:" + std::to_string(server.port()) + "/"));
    ASSERT_TRUE(response) << describe(response.error());
    EXPECT_EQ(response->body, "direct");
    EXPECT_TRUE(proxy.requests().empty()) << proxy.log();
}

TEST_F(https_client_proxy_test, proxy_authentication_with_the_right_credentials_passes) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server tls_server{[](http_request const&) { return answer(200, "secure"); }, pki};
    loopback_server plain_server{[](http_request const&) { return answer(200, "plain"); }};
    squid_proxy proxy{{proxy_user, proxy_password}};
    auto through = proxy_at(proxy.url_with(proxy_user, proxy_password));
    auto client = make_client(through, through, pki.ca_file);
    auto secure = send(client, endpoint("https://localhost:" + std::to_string(tls_server.port()) + "/"));
    ASSERT_TRUE(secure) << describe(secure.error()) << "\n" << proxy.log();
    EXPECT_EQ(secure->body, "secure");
    auto plain = send(client, endpoint("http://127.0.0.1:" + std::to_string(plain_server.port()) + "/"));
    ASSERT_TRUE(plain) << describe(plain.error()) << "\n" << proxy.log();
    EXPECT_EQ(plain->body, "plain");
    client.close_idle_connections();
    ASSERT_TRUE(eventually([&] { return proxy.requests().size() >= 2; })) << proxy.log();
    EXPECT_EQ(count_starting_with(proxy.requests(), "CONNECT localhost:"), 1u) << proxy.log();
    EXPECT_EQ(count_starting_with(proxy.requests(), "GET http://127.0.0.1:"), 1u) << proxy.log();
}

TEST_F(https_client_proxy_test, missing_or_wrong_proxy_credentials_are_a_clear_407_failure) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server tls_server{[](http_request const&) { return answer(200, "should not arrive"); }, pki};
    loopback_server plain_server{[](http_request const&) { return answer(200, "should not arrive"); }};
    squid_proxy proxy{{proxy_user, proxy_password}};
    auto const secure = endpoint("https://localhost:" + std::to_string(tls_server.port()) + "/");
    auto const plain = endpoint("http://127.0.0.1:" + std::to_string(plain_server.port()) + "/");
    auto const proxy_where = "the proxy 127.0.0.1:" + std::to_string(proxy.port());

    auto anonymous = make_client(proxy_at(proxy.url()), proxy_at(proxy.url()), pki.ca_file);
    for (auto const& target : {secure, plain}) {
        auto response = send(anonymous, target);
        ASSERT_FALSE(response) << target.text();
        EXPECT_EQ(response.error().kind, failure_kind::proxy);
        EXPECT_EQ(response.error().http_status, 407);
        EXPECT_TRUE(response.error().retryable);
        EXPECT_TRUE(contains(response.error().message, proxy_where)) << response.error().message;
        EXPECT_TRUE(contains(response.error().message, "407 Proxy Authentication Required"))
            << response.error().message;
        EXPECT_TRUE(contains(response.error().message, "none were given")) << response.error().message;
    }

    auto wrong = proxy_at(proxy.url_with(proxy_user, "not-the-password"));
    auto mistaken = make_client(wrong, wrong, pki.ca_file);
    for (auto const& target : {secure, plain}) {
        auto response = send(mistaken, target);
        ASSERT_FALSE(response) << target.text();
        EXPECT_EQ(response.error().kind, failure_kind::proxy);
        EXPECT_EQ(response.error().http_status, 407);
        EXPECT_TRUE(contains(response.error().message, "the user or password is wrong")) << response.error().message;
        EXPECT_FALSE(contains(describe(response.error()), "not-the-password"));
        EXPECT_FALSE(contains(describe(response.error()), wrong.authorization.substr(6)));
    }
    EXPECT_TRUE(tls_server.requests().empty());
    EXPECT_TRUE(plain_server.requests().empty());
    ASSERT_TRUE(eventually([&] { return proxy.requests().size() >= 4; })) << proxy.log();
    EXPECT_EQ(count_starting_with(proxy.requests(), "CONNECT localhost:"), 2u) << proxy.log();
    for (auto const& line : proxy.requests()) EXPECT_TRUE(line.ends_with(" 407")) << line;
}

TEST_F(https_client_proxy_test, a_proxy_that_is_down_is_a_retryable_failure_naming_it) {
    auto const port = rancher_ecr::testing::free_tcp_port();
    auto down = proxy_at("http://127.0.0.1:" + std::to_string(port));
    auto client = make_client(down, down);
    for (auto const* target : {"https://localhost:4443/", "http://127.0.0.1:8080/"}) {
        auto response = send(client, endpoint(target));
        ASSERT_FALSE(response) << target;
        EXPECT_EQ(response.error().kind, failure_kind::proxy);
        EXPECT_TRUE(response.error().retryable);
        EXPECT_TRUE(contains(response.error().message, "cannot connect to the proxy 127.0.0.1:" + std::to_string(port)))
            << response.error().message;
        EXPECT_TRUE(contains(response.error().message, "Connection refused")) << response.error().message;
    }
}

TEST_F(https_client_proxy_test, a_proxy_that_never_answers_connect_times_out) {
    loopback_server silent{
        [](http_request const&) { return scripted_answer{scripted_answer::action::stay_silent, {}, {}}; }};
    https_client_options options;
    options.connect_timeout = std::chrono::milliseconds{300};
    options.proxies.https = proxy_at("http://127.0.0.1:" + std::to_string(silent.port()));
    https_client client{context_.get_executor(), options};
    auto response = send(client, endpoint("https://localhost:4443/"));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::proxy);
    EXPECT_TRUE(response.error().retryable);
    EXPECT_TRUE(contains(response.error().message, "(CONNECT localhost:4443): no answer within 300 ms"))
        << response.error().message;
    auto seen = silent.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "CONNECT");
    EXPECT_EQ(seen[0].target, "localhost:4443");
    EXPECT_EQ(seen[0].header("host"), "localhost:4443");
}

TEST_F(https_client_proxy_test, a_proxy_refusing_the_tunnel_is_reported_with_its_status) {
    loopback_server refusing{[](http_request const&) { return answer(403, "CONNECT to that port is not allowed"); }};
    auto client = make_client(proxy_at("http://127.0.0.1:" + std::to_string(refusing.port())), std::nullopt);
    auto response = send(client, endpoint("https://[::1]:4443/"));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::proxy);
    EXPECT_EQ(response.error().http_status, 403);
    EXPECT_TRUE(contains(response.error().message, "(CONNECT [::1]:4443): the proxy answered 403 Forbidden"))
        << response.error().message;
}

TEST_F(https_client_proxy_test, no_proxy_sends_matching_targets_direct) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server tls_server{[](http_request const&) { return answer(200, "secure"); }, pki};
    loopback_server plain_server{[](http_request const&) { return answer(200, "plain"); }};
    auto down = proxy_at("http://127.0.0.1:" + std::to_string(rancher_ecr::testing::free_tcp_port()));
    auto client = make_client(down, down, pki.ca_file, " localhost, 127.0.0.0/8 ");
    auto secure = send(client, endpoint("https://localhost:" + std::to_string(tls_server.port()) + "/"));
    ASSERT_TRUE(secure) << describe(secure.error());
    EXPECT_EQ(secure->body, "secure");
    auto plain = send(client, endpoint("http://127.0.0.1:" + std::to_string(plain_server.port()) + "/"));
    ASSERT_TRUE(plain) << describe(plain.error());
    EXPECT_EQ(plain->body, "plain");
    // A port-specific entry for another port does not bypass: the proxy (down) is tried.
    auto narrow = make_client(down, down, pki.ca_file, "127.0.0.1:1");
    auto proxied = send(narrow, endpoint("http://127.0.0.1:" + std::to_string(plain_server.port()) + "/"));
    ASSERT_FALSE(proxied);
    EXPECT_EQ(proxied.error().kind, failure_kind::proxy);
}

}  // namespace
}  // namespace rancher_ecr
