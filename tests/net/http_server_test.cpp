#include "net/http_server.hpp"

#include <sstream>
#include <stdexcept>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "net/https_client.hpp"
#include "support/gunzip.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using rancher_ecr::testing::run_with_deadline;
using namespace std::chrono_literals;

std::shared_ptr<http_response const> echo(std::string_view method, std::string_view target) {
    if (method == "HEAD") return std::make_shared<http_response const>(http_response{200, {}, "a body\n"});
    if (method != "GET")
        return std::make_shared<http_response const>(http_response{405, {{"Allow", "GET"}}, "method not allowed\n"});
    return std::make_shared<http_response const>(
        http_response{200, {{"Content-Type", "text/plain"}}, std::string{target}});
}

// Completes with true when the server closes `socket` (it sends nothing on these connections).
asio::awaitable<bool> closed_by_peer(tcp::socket& socket) {
    char byte;
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
    (void)n;
    co_return ec == asio::error::eof || ec == asio::error::connection_reset;
}

class http_server_test : public ::testing::Test {
protected:
    void start(http_server_options options = {}, http_handler handler = echo) {
        options.address = "127.0.0.1";
        options.port = 0;
        auto listening = http_server::listen(context_.get_executor(), options, std::move(handler));
        ASSERT_TRUE(listening) << describe(listening.error());
        server_ = std::move(*listening);
        asio::co_spawn(context_, server_->run(), [this](std::exception_ptr) { server_done_ = true; });
    }
    url address(std::string target = "/") {
        return *parse_url("http://127.0.0.1:" + std::to_string(server_->port()) + target);
    }
    result<http_response> get(https_client& client, std::string target, std::string method = "GET") {
        http_request request;
        request.method = std::move(method);
        request.target = target;
        return run_with_deadline(context_, client.send(address(target), request));
    }
    // Raw bytes in, everything the server sends until it closes the connection out.
    std::string exchange_raw(std::string bytes) {
        return run_with_deadline(context_, [](tcp::endpoint peer, std::string out) -> asio::awaitable<std::string> {
            tcp::socket socket{co_await asio::this_coro::executor};
            co_await socket.async_connect(peer, asio::use_awaitable);
            co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
            std::string in;
            auto [ec, n] = co_await asio::async_read(socket, asio::dynamic_buffer(in),
                                                     asio::as_tuple(asio::use_awaitable));
            (void)ec;
            (void)n;
            co_return in;
        }(tcp::endpoint{asio::ip::make_address("127.0.0.1"), server_->port()}, std::move(bytes)));
    }

    // Runs the context until `condition` holds or `deadline` passes; the condition's last answer.
    bool run_until(std::function<bool()> const& condition, std::chrono::milliseconds deadline = 10s) {
        auto const until = std::chrono::steady_clock::now() + deadline;
        context_.restart();
        while (!condition() && std::chrono::steady_clock::now() < until) context_.run_one_for(20ms);
        return condition();
    }

    asio::io_context context_;
    std::unique_ptr<http_server> server_;
    bool server_done_ = false;
};

// What the server logs, for the tests that read it.
class captured_log {
public:
    captured_log() : previous_{spdlog::default_logger()} {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    }
    ~captured_log() { spdlog::set_default_logger(previous_); }
    captured_log(captured_log const&) = delete;
    captured_log& operator=(captured_log const&) = delete;
    std::string text() const { return text_.str(); }
    bool has(std::string const& part) const { return text().find(part) != std::string::npos; }
    std::size_t count(std::string const& part) const {
        auto const all = text();
        std::size_t n = 0;
        for (auto at = all.find(part); at != std::string::npos; at = all.find(part, at + 1)) ++n;
        return n;
    }

private:
    std::ostringstream text_;
    std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(http_server_test, answers_through_the_handler_on_one_kept_alive_connection) {
    start();
    https_client client{context_.get_executor(), {}};
    for (auto target : {"/healthz", "/metrics?x=1", "/other"}) {
        auto response = get(client, target);
        ASSERT_TRUE(response) << describe(response.error());
        EXPECT_EQ(response->status, 200);
        EXPECT_EQ(response->body, target);
        EXPECT_EQ(response->header("content-type"), "text/plain");
    }
    EXPECT_EQ(client.connections_opened(), 1u);
    auto post = get(client, "/healthz", "POST");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 405);
    EXPECT_EQ(post->header("allow"), "GET");
}

// A text or JSON answer of more than a packet goes gzip-compressed to a request that accepts gzip
// (on any of its Accept-Encoding fields), as it is to one that does not; a short one, or another
// type, as it is. Compressible types say Vary: Accept-Encoding either way.
TEST_F(http_server_test, compresses_a_long_text_answer_for_a_request_that_accepts_gzip) {
    std::string long_json = "[";
    for (int i = 0; i < 400; ++i) long_json += "{\"name\":\"prod/env-" + std::to_string(i) + "\",\"status\":\"ok\"},";
    long_json += "{}]";
    auto const health = std::make_shared<http_response const>(http_response{200, {{"Content-Type", "application/json"}}, long_json});
    auto const picture = std::make_shared<http_response const>(http_response{200, {{"Content-Type", "image/png"}}, long_json});
    auto const ping = std::make_shared<http_response const>(http_response{200, {{"Content-Type", "text/plain"}}, "pong\n"});
    start({}, [&](std::string_view, std::string_view target) {
        return target == "/picture" ? picture : target == "/ping" ? ping : health;
    });
    auto exchange = [&](std::string const& target, std::string const& fields) {
        auto raw = exchange_raw("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + fields + "Connection: close\r\n\r\n");
        auto const split = raw.find("\r\n\r\n");
        EXPECT_NE(split, std::string::npos) << raw;
        return std::pair{raw.substr(0, split + 2), raw.substr(split + 4)};
    };
    for (auto const* fields : {"Accept-Encoding: gzip\r\n", "Accept-Encoding: br\r\nAccept-Encoding: gzip;q=0.5\r\n"}) {
        auto [head, body] = exchange("/healthz", fields);
        EXPECT_NE(head.find("\r\nContent-Encoding: gzip\r\n"), std::string::npos) << head;
        EXPECT_NE(head.find("\r\nVary: Accept-Encoding\r\n"), std::string::npos) << head;
        EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << head;
        EXPECT_LT(body.size(), long_json.size() / 5);
        EXPECT_EQ(testing::gunzip(body), long_json);
    }
    for (auto const* fields : {"", "Accept-Encoding: gzip;q=0\r\n", "Accept-Encoding: identity\r\n"}) {
        auto [head, body] = exchange("/healthz", fields);
        EXPECT_EQ(head.find("Content-Encoding"), std::string::npos) << head;
        EXPECT_NE(head.find("\r\nVary: Accept-Encoding\r\n"), std::string::npos) << head;
        EXPECT_EQ(body, long_json);
    }
    auto [short_head, short_body] = exchange("/ping", "Accept-Encoding: gzip\r\n");
    EXPECT_EQ(short_head.find("Content-Encoding"), std::string::npos) << short_head;
    EXPECT_EQ(short_body, "pong\n");
    auto [picture_head, picture_body] = exchange("/picture", "Accept-Encoding: gzip\r\n");
    EXPECT_EQ(picture_head.find("Content-Encoding"), std::string::npos) << picture_head;
    EXPECT_EQ(picture_head.find("Vary"), std::string::npos) << picture_head;
    EXPECT_EQ(picture_body, long_json);
}

TEST_F(http_server_test, a_port_in_use_is_a_clear_error) {
    start();
    http_server_options options;
    options.address = "127.0.0.1";
    options.port = server_->port();
    auto second = http_server::listen(context_.get_executor(), options, echo);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(server_->port())),
              std::string::npos)
        << second.error().message;
    // What the port is to the operator (LISTEN_PORT) the service adds: cli_test.
    EXPECT_NE(second.error().message.find("Address already in use"), std::string::npos) << second.error().message;
}

TEST_F(http_server_test, refuses_an_oversized_request_with_413) {
    http_server_options options;
    options.max_request_bytes = 1024;
    start(options);
    auto answer = exchange_raw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer;
}

TEST_F(http_server_test, answers_http_1_0_and_closes) {
    start();
    auto answer = exchange_raw("GET /old HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(answer.starts_with("HTTP/1.0 200 OK\r\n")) << answer;
    EXPECT_NE(answer.find("\r\nContent-Length: 4\r\n"), std::string::npos) << answer;
    EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos) << answer;
    EXPECT_TRUE(answer.ends_with("\r\n\r\n/old")) << answer;
}

TEST_F(http_server_test, head_gets_the_header_without_the_body) {
    start();
    auto answer = exchange_raw("HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
    EXPECT_NE(answer.find("\r\nContent-Length: 7\r\n"), std::string::npos) << answer;
    EXPECT_TRUE(answer.ends_with("\r\n\r\n")) << answer;
}

TEST_F(http_server_test, drops_a_request_body_and_answers_pipelined_requests_in_order) {
    start();
    auto answer = exchange_raw(
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        "PUT /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto const first = answer.find("HTTP/1.1 405 Method Not Allowed\r\n");
    auto const second = answer.find("HTTP/1.1 405 Method Not Allowed\r\n", first + 1);
    auto const third = answer.find("HTTP/1.1 200 OK\r\n", second + 1);
    EXPECT_EQ(first, 0u) << answer;
    EXPECT_NE(second, std::string::npos) << answer;
    EXPECT_NE(third, std::string::npos) << answer;
    EXPECT_TRUE(answer.ends_with("\r\n\r\n/c")) << answer;
}

TEST_F(http_server_test, answers_a_malformed_request_with_400_and_closes) {
    start();
    auto answer = exchange_raw("NOT HTTP AT ALL\r\n\r\n");
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 Bad Request\r\n")) << answer;
    EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos) << answer;
}

TEST_F(http_server_test, closes_a_connection_that_sends_nothing) {
    http_server_options options;
    options.read_timeout = 200ms;
    start(options);
    auto answer = exchange_raw("");  // connect, send nothing: the server must hang up by itself
    EXPECT_EQ(answer, "");
}

TEST_F(http_server_test, idle_connections_beyond_the_cap_do_not_block_a_probe) {
    http_server_options options;
    options.max_connections = 8;
    start(options);
    std::vector<tcp::socket> idle;
    for (int i = 0; i < 20; ++i) {
        idle.emplace_back(context_);
        idle.back().connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    }
    https_client client{context_.get_executor(), {}};
    auto response = get(client, "/healthz");
    ASSERT_TRUE(response) << describe(response.error());
    EXPECT_EQ(response->status, 200);
    // The longest-open idle connection was closed to make room.
    EXPECT_TRUE(run_with_deadline(context_, closed_by_peer(idle.front())));
}

TEST_F(http_server_test, stop_ends_run_and_closes_open_connections) {
    start();
    tcp::socket idle{context_};
    idle.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    run_with_deadline(context_, []() -> asio::awaitable<bool> { co_return true; }());
    server_->stop();
    EXPECT_TRUE(run_with_deadline(context_, closed_by_peer(idle)));
    auto const until = std::chrono::steady_clock::now() + 5s;
    while (!server_done_ && std::chrono::steady_clock::now() < until) context_.run_one_for(100ms);
    EXPECT_TRUE(server_done_);
}

// Out of descriptors, accept fails with EMFILE while the connection waits in the backlog: the
// server pauses and says so once, accepts again once a descriptor is free, and stop() still ends
// run() during a pause.
TEST_F(http_server_test, out_of_descriptors_it_pauses_logs_once_and_accepts_again) {
    captured_log log;
    start();
    // The client sockets exist before the limit comes down: connecting needs no new descriptor.
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 3; ++i) {
        clients.emplace_back(context_);
        clients.back().open(tcp::v4());
    }
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int const lowest_free = ::dup(0);
    ASSERT_GE(lowest_free, 0);
    ::close(lowest_free);
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);  // no descriptor left for accept
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
    for (auto& client : clients) client.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    bool const warned = run_until([&] { return log.has("accepting a connection failed"); });
    run_until([] { return false; }, 300ms);  // a few pauses more, each of them silent
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    ASSERT_TRUE(warned) << log.text();
    EXPECT_EQ(log.count("accepting a connection failed"), 1u) << log.text();
    EXPECT_TRUE(log.has("Too many open files")) << log.text();
    EXPECT_TRUE(log.has("RLIMIT_NOFILE " + std::to_string(lowest_free))) << log.text();

    EXPECT_TRUE(run_until([&] { return log.has("accepting connections again"); })) << log.text();
    EXPECT_EQ(log.count("accepting connections again"), 1u) << log.text();
    server_->stop();
    EXPECT_TRUE(run_until([&] { return server_done_; }));
}

TEST_F(http_server_test, stop_ends_run_while_it_pauses_after_a_failed_accept) {
    captured_log log;
    start();
    tcp::socket client{context_};
    client.open(tcp::v4());
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int const lowest_free = ::dup(0);
    ASSERT_GE(lowest_free, 0);
    ::close(lowest_free);
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
    client.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    bool const warned = run_until([&] { return log.has("accepting a connection failed"); });
    run_until([] { return false; }, 100ms);
    server_->stop();  // during a pause: the pause ends with it
    bool const done = run_until([&] { return server_done_; }, 5s);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    EXPECT_TRUE(warned) << log.text();
    EXPECT_TRUE(done);
}

// A handler that throws (a bug) costs its connection, logged; the server goes on.
TEST_F(http_server_test, a_handler_that_throws_is_logged_and_the_server_goes_on) {
    captured_log log;
    start({}, [](std::string_view method, std::string_view target) {
        if (target == "/bug") throw std::logic_error("a bug in the handler");
        return echo(method, target);
    });
    auto answer = exchange_raw("GET /bug HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(answer, "");
    EXPECT_TRUE(log.has("serving a probe connection failed: a bug in the handler")) << log.text();
    https_client client{context_.get_executor(), {}};
    auto response = get(client, "/fine");
    ASSERT_TRUE(response) << describe(response.error());
    EXPECT_EQ(response->status, 200);
}

}  // namespace
}  // namespace rancher_ecr
