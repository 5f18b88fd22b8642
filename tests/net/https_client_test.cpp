#include "net/https_client.hpp"

#include <atomic>
#include <cstdlib>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "net/coroutine_warning.hpp"
#include "support/child_process.hpp"
#include "support/loopback_server.hpp"
#include "support/run_with_deadline.hpp"
#include "support/test_pki.hpp"

namespace rancher_ecr {
namespace {

using testing_support_answer = rancher_ecr::testing::scripted_answer;
using rancher_ecr::testing::loopback_server;
using rancher_ecr::testing::make_test_pki;
using rancher_ecr::testing::run_with_deadline;

testing_support_answer answer(int status, std::string body) {
    return testing_support_answer{testing_support_answer::action::respond,
                                  http_response{status, {{"Content-Type", "text/plain"}}, std::move(body)},
                                  {}};
}

url endpoint(std::string const& scheme, std::string const& host, std::uint16_t port, std::string target = "/") {
    auto parsed = parse_url(scheme + "://" + host + ":" + std::to_string(port) + target);
    EXPECT_TRUE(parsed);
    return *parsed;
}

class https_client_test : public ::testing::Test {
protected:
    result<http_response> send(https_client& client, url const& where, http_request request = {}) {
        request.target = where.target;
        return run_with_deadline(context_, client.send(where, std::move(request)));
    }
    https_client make_client(https_client_options options = {}) { return https_client{context_.get_executor(), options}; }

    boost::asio::io_context context_;
};

TEST_F(https_client_test, plain_http_request_and_response) {
    loopback_server server{[](http_request const& r) { return answer(201, "got " + r.method + " " + r.body); }};
    auto client = make_client();
    http_request request;
    request.method = "POST";
    request.body = "{}";
    request.headers.push_back({"X-Amz-Target", "Test.Op"});
    auto response = send(client, endpoint("http", "127.0.0.1", server.port(), "/path?q=1"), request);
    ASSERT_TRUE(response) << describe(response.error());
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(response->body, "got POST {}");
    EXPECT_EQ(response->header("content-type"), "text/plain");
    auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].target, "/path?q=1");
    EXPECT_EQ(seen[0].header("host"), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(seen[0].header("x-amz-target"), "Test.Op");
    EXPECT_EQ(seen[0].header("content-length"), "2");
}

TEST_F(https_client_test, keeps_one_connection_alive_for_several_requests) {
    loopback_server server{[](http_request const&) { return answer(200, "ok"); }};
    auto client = make_client();
    auto where = endpoint("http", "127.0.0.1", server.port());
    for (int i = 0; i < 3; ++i) {
        auto response = send(client, where);
        ASSERT_TRUE(response) << describe(response.error());
    }
    EXPECT_EQ(client.connections_opened(), 1u);
    EXPECT_EQ(server.connections_accepted(), 1u);
    EXPECT_EQ(server.requests().size(), 3u);
}

// Requests under way together (a refresh of many places behind origin_limit) each need a
// connection; with as many kept alive, the next batch opens none.
TEST_F(https_client_test, keeps_as_many_idle_connections_per_origin_as_it_is_told) {
    loopback_server server{[](http_request const&) { return answer(200, "ok"); }};
    auto where = endpoint("http", "127.0.0.1", server.port());
    auto batch = [&](https_client& client) {
        int answered = 0;
        for (int i = 0; i < 4; ++i)
            boost::asio::co_spawn(
                context_,
                [&]() -> boost::asio::awaitable<void> {
                    http_request request;  // named: GCC 12 destroys a temporary in a co_await twice
                    auto response = co_await client.send(where, std::move(request));
                    if (response && response->status == 200) ++answered;
                },
                boost::asio::detached);
        context_.restart();
        context_.run_for(std::chrono::seconds{10});
        EXPECT_EQ(answered, 4);
    };
    https_client_options four;
    four.max_idle_per_origin = 4;
    auto kept = make_client(four);
    batch(kept);
    EXPECT_EQ(kept.connections_opened(), 4u);  // four under way at once
    batch(kept);
    batch(kept);
    EXPECT_EQ(kept.connections_opened(), 4u);  // each later request found an idle one

    auto one = make_client();  // the default keeps one: the others are closed after their answer
    batch(one);
    batch(one);
    EXPECT_EQ(one.connections_opened(), 7u);
}

TEST_F(https_client_test, retries_once_on_a_new_connection_when_the_server_closed_the_idle_one) {
    loopback_server server{[](http_request const&) {
        auto a = answer(200, "ok");
        a.what = testing_support_answer::action::respond_then_close;
        return a;
    }};
    auto client = make_client();
    auto where = endpoint("http", "127.0.0.1", server.port());
    ASSERT_TRUE(send(client, where));
    auto second = send(client, where);
    ASSERT_TRUE(second) << describe(second.error());
    EXPECT_EQ(second->body, "ok");
    EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST_F(https_client_test, does_not_resend_a_request_whose_answer_was_cut_short_on_a_reused_connection) {
    std::atomic<int> seen{0};
    loopback_server server{[&](http_request const&) {
        if (seen++ == 0) return answer(200, "ok");
        return testing_support_answer{testing_support_answer::action::send_raw, {},
                                      "HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{\"id\":"};
    }};
    auto client = make_client();
    auto where = endpoint("http", "127.0.0.1", server.port());
    ASSERT_TRUE(send(client, where));
    auto second = send(client, where);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().kind, failure_kind::transport);
    EXPECT_EQ(server.requests().size(), 2u);  // the server acted on it: it must not be sent again
}

TEST_F(https_client_test, tls_with_a_trusted_ca_and_matching_name) {
    auto pki = make_test_pki({"localhost"}, {"127.0.0.1"});
    loopback_server server{[](http_request const&) { return answer(200, "secure"); }, pki};
    https_client_options options;
    options.trust = std::make_shared<tls_trust>(pki.ca_file);
    auto client = make_client(options);
    for (auto host : {"localhost", "127.0.0.1"}) {
        auto response = send(client, endpoint("https", host, server.port()));
        ASSERT_TRUE(response) << host << ": " << describe(response.error());
        EXPECT_EQ(response->body, "secure");
    }
}

TEST_F(https_client_test, tls_refuses_a_certificate_for_another_host_name) {
    auto pki = make_test_pki({"registry.example.test"}, {});
    loopback_server server{[](http_request const&) { return answer(200, "should not arrive"); }, pki};
    https_client_options options;
    options.trust = std::make_shared<tls_trust>(pki.ca_file);
    auto client = make_client(options);
    auto response = send(client, endpoint("https", "localhost", server.port()));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::tls);
    EXPECT_FALSE(response.error().retryable);
    EXPECT_NE(response.error().message.find("hostname mismatch"), std::string::npos) << response.error().message;
    EXPECT_NE(response.error().message.find("localhost:" + std::to_string(server.port())), std::string::npos);
    EXPECT_TRUE(server.requests().empty());

    auto by_address = send(client, endpoint("https", "127.0.0.1", server.port()));
    ASSERT_FALSE(by_address);
    EXPECT_NE(by_address.error().message.find("IP address mismatch"), std::string::npos)
        << by_address.error().message;
}

TEST_F(https_client_test, tls_refuses_an_unknown_ca) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server server{[](http_request const&) { return answer(200, "should not arrive"); }, pki};
    auto client = make_client();  // system store only
    auto response = send(client, endpoint("https", "localhost", server.port()));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::tls);
    EXPECT_NE(response.error().message.find("certificate verify failed: unable to get local issuer certificate"),
              std::string::npos)
        << response.error().message;
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(https_client_test, an_unknown_ca_says_what_to_do_and_a_name_mismatch_does_not) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server server{[](http_request const&) { return answer(200, "should not arrive"); }, pki};
    https_client_options options;
    options.untrusted_certificate_hint = "give its PEM file in CATTLE_CA_BUNDLE";
    auto client = make_client(options);
    auto response = send(client, endpoint("https", "localhost", server.port()));
    ASSERT_FALSE(response);
    EXPECT_TRUE(response.error().message.ends_with(
        "certificate verify failed: unable to get local issuer certificate; give its PEM file in CATTLE_CA_BUNDLE"))
        << response.error().message;

    // Trusted, but issued for another name: a CA bundle would not help.
    options.trust = std::make_shared<tls_trust>(pki.ca_file);
    auto trusting = make_client(options);
    auto by_address = send(trusting, endpoint("https", "127.0.0.1", server.port()));
    ASSERT_FALSE(by_address);
    EXPECT_NE(by_address.error().message.find("IP address mismatch"), std::string::npos) << by_address.error().message;
    EXPECT_EQ(by_address.error().message.find("CATTLE_CA_BUNDLE"), std::string::npos) << by_address.error().message;
    EXPECT_TRUE(server.requests().empty());
}

// Restores the open-file limit when it goes.
class open_file_limit_lowered {
public:
    // No descriptor can be opened while it lives: the limit is the lowest free descriptor.
    open_file_limit_lowered() {
        ::getrlimit(RLIMIT_NOFILE, &saved_);
        int const lowest_free = ::dup(0);
        ::close(lowest_free);
        rlimit lowered = saved_;
        lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
        ::setrlimit(RLIMIT_NOFILE, &lowered);
    }
    ~open_file_limit_lowered() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
    open_file_limit_lowered(open_file_limit_lowered const&) = delete;
    open_file_limit_lowered& operator=(open_file_limit_lowered const&) = delete;

private:
    rlimit saved_{};
};

TEST_F(https_client_test, no_file_descriptor_left_is_named_and_passes_with_the_limit_back) {
    loopback_server server{[](http_request const&) { return answer(200, "ok"); }};
    auto client = make_client();
    ASSERT_TRUE(send(client, endpoint("http", "127.0.0.1", server.port())));  // the reactor's descriptors exist
    client.close_idle_connections();
    result<http_response> refused = make_failure(failure_kind::transport, "not sent");
    {
        open_file_limit_lowered lowered;
        refused = send(client, endpoint("http", "127.0.0.1", server.port()));
    }
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, failure_kind::connect);
    EXPECT_TRUE(refused.error().retryable);
    EXPECT_NE(refused.error().message.find("cannot open a connection to 127.0.0.1:" + std::to_string(server.port()) +
                                           ": Too many open files (RLIMIT_NOFILE "),
              std::string::npos)
        << refused.error().message;
    EXPECT_EQ(refused.error().message.find("canceled"), std::string::npos) << refused.error().message;
    EXPECT_TRUE(send(client, endpoint("http", "127.0.0.1", server.port())));
}

TEST_F(https_client_test, honours_ssl_cert_file) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server server{[](http_request const&) { return answer(200, "trusted via SSL_CERT_FILE"); }, pki};
    ::setenv("SSL_CERT_FILE", pki.ca_file.c_str(), 1);
    auto client = make_client();
    auto response = send(client, endpoint("https", "localhost", server.port()));
    ::unsetenv("SSL_CERT_FILE");
    ASSERT_TRUE(response) << describe(response.error());
    EXPECT_EQ(response->body, "trusted via SSL_CERT_FILE");
}

TEST_F(https_client_test, an_unreadable_ca_bundle_fails_the_first_tls_connection_clearly) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server server{[](http_request const&) { return answer(200, "should not arrive"); }, pki};
    https_client_options options;
    options.trust = std::make_shared<tls_trust>("/nonexistent/ca.pem");
    auto client = make_client(options);
    auto response = send(client, endpoint("https", "localhost", server.port()));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::config);
    EXPECT_NE(response.error().message.find("cannot load the CA bundle /nonexistent/ca.pem"), std::string::npos)
        << response.error().message;
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(https_client_test, clients_sharing_a_trust_load_it_once_and_only_for_tls) {
    auto pki = make_test_pki({"localhost"}, {});
    loopback_server tls_server{[](http_request const&) { return answer(200, "secure"); }, pki};
    loopback_server plain_server{[](http_request const&) { return answer(200, "plain"); }};
    auto trust = std::make_shared<tls_trust>(pki.ca_file);
    https_client_options options;
    options.trust = trust;
    auto plain = make_client(options);
    ASSERT_TRUE(send(plain, endpoint("http", "127.0.0.1", plain_server.port())));
    EXPECT_FALSE(trust->loaded());

    auto first = make_client(options);
    auto second = make_client(options);
    ASSERT_TRUE(send(first, endpoint("https", "localhost", tls_server.port())));
    ASSERT_TRUE(trust->loaded());
    auto const* loaded_once = *trust->context();
    auto response = send(second, endpoint("https", "localhost", tls_server.port()));
    ASSERT_TRUE(response) << describe(response.error());
    EXPECT_EQ(response->body, "secure");
    EXPECT_EQ(*trust->context(), loaded_once);
}

TEST_F(https_client_test, close_idle_connections_makes_the_next_request_connect_afresh) {
    loopback_server server{[](http_request const&) { return answer(200, "ok"); }};
    auto client = make_client();
    auto where = endpoint("http", "127.0.0.1", server.port());
    ASSERT_TRUE(send(client, where));
    ASSERT_TRUE(send(client, where));
    EXPECT_EQ(client.connections_opened(), 1u);
    client.close_idle_connections();
    ASSERT_TRUE(send(client, where));
    EXPECT_EQ(client.connections_opened(), 2u);
}

TEST_F(https_client_test, a_silent_server_times_out) {
    loopback_server server{[](http_request const&) {
        return testing_support_answer{testing_support_answer::action::stay_silent, {}, {}};
    }};
    https_client_options options;
    options.request_timeout = std::chrono::milliseconds{300};
    auto client = make_client(options);
    auto response = send(client, endpoint("http", "127.0.0.1", server.port()));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::timeout);
    EXPECT_TRUE(response.error().retryable);
    EXPECT_NE(response.error().message.find("no response from 127.0.0.1:"), std::string::npos)
        << response.error().message;
}

TEST_F(https_client_test, a_closed_port_is_a_connect_error) {
    auto port = rancher_ecr::testing::free_tcp_port();
    auto client = make_client();
    auto response = send(client, endpoint("http", "127.0.0.1", port));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::connect);
    EXPECT_NE(response.error().message.find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << response.error().message;
}

TEST_F(https_client_test, an_unknown_host_is_a_resolve_error) {
    auto client = make_client();
    auto response = send(client, endpoint("http", "no-such-host.invalid", 80));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::resolve);
    EXPECT_NE(response.error().message.find("cannot resolve no-such-host.invalid"), std::string::npos)
        << response.error().message;
}

TEST_F(https_client_test, refuses_a_response_larger_than_the_limit) {
    loopback_server server{[](http_request const&) { return answer(200, std::string(64 * 1024, 'x')); }};
    https_client_options options;
    options.max_response_bytes = 16 * 1024;
    auto client = make_client(options);
    auto response = send(client, endpoint("http", "127.0.0.1", server.port()));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::bad_response);
    EXPECT_NE(response.error().message.find("exceeds 16384 bytes"), std::string::npos) << response.error().message;
}

TEST_F(https_client_test, a_malformed_response_is_reported) {
    loopback_server server{[](http_request const&) {
        return testing_support_answer{testing_support_answer::action::send_raw, {}, "HTTP/1.1 abc nonsense\r\n\r\n"};
    }};
    auto client = make_client();
    auto response = send(client, endpoint("http", "127.0.0.1", server.port()));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::bad_response);
    EXPECT_NE(response.error().message.find("malformed HTTP response from 127.0.0.1"), std::string::npos)
        << response.error().message;
}

TEST_F(https_client_test, a_truncated_body_is_a_transport_error) {
    loopback_server server{[](http_request const&) {
        return testing_support_answer{testing_support_answer::action::send_raw, {},
                                      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":"};
    }};
    auto client = make_client();
    auto response = send(client, endpoint("http", "127.0.0.1", server.port()));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().kind, failure_kind::transport);
    EXPECT_TRUE(response.error().retryable);
}

}  // namespace
}  // namespace rancher_ecr
