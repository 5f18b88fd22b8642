#include "support/loopback_server.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace rancher_ecr::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

http_request from_beast(http::request<http::string_body> const& message) {
    http_request request;
    request.method = std::string{message.method_string()};
    request.target = std::string{message.target()};
    for (auto const& field : message)
        request.headers.push_back({std::string{field.name_string()}, std::string{field.value()}});
    request.body = message.body();
    return request;
}

http::response<http::string_body> to_beast(http_response const& response, bool keep_alive) {
    http::response<http::string_body> message{static_cast<http::status>(response.status), 11};
    for (auto const& h : response.headers) message.insert(h.name, h.value);
    message.body() = response.body;
    message.keep_alive(keep_alive);
    message.prepare_payload();
    return message;
}

}  // namespace

struct loopback_server::state {
    request_handler handler;
    asio::io_context context;
    std::optional<asio::ssl::context> tls;
    tcp::acceptor acceptor{context};
    std::thread thread;
    std::atomic<std::size_t> accepted{0};
    mutable std::mutex mutex;
    std::vector<http_request> requests;

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> message;
            auto [read_ec, read] = co_await http::async_read(stream, buffer, message, use_tuple);
            (void)read;
            if (read_ec) co_return;
            auto request = from_beast(message);
            {
                std::lock_guard lock{mutex};
                requests.push_back(request);
            }
            auto answer = handler(request);
            using action = scripted_answer::action;
            switch (answer.what) {
                case action::close:
                    co_return;
                case action::stay_silent: {
                    asio::steady_timer forever{context, std::chrono::hours{1}};
                    co_await forever.async_wait(use_tuple);
                    co_return;
                }
                case action::send_raw:
                    co_await asio::async_write(stream, asio::buffer(answer.raw), use_tuple);
                    co_return;
                case action::respond:
                case action::respond_then_close: {
                    bool keep_alive = answer.what == action::respond_then_close || message.keep_alive();
                    auto response = to_beast(answer.response, keep_alive);
                    auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
                    (void)written;
                    if (write_ec || answer.what == action::respond_then_close || !message.keep_alive()) co_return;
                    break;
                }
            }
        }
    }

    asio::awaitable<void> session(tcp::socket socket) {
        if (!tls) {
            beast::tcp_stream stream{std::move(socket)};
            co_await serve(stream);
            co_return;
        }
        beast::ssl_stream<beast::tcp_stream> stream{beast::tcp_stream{std::move(socket)}, *tls};
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
        if (!ec) co_await serve(stream);
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec) co_return;
            ++accepted;
            asio::co_spawn(context, session(std::move(socket)), asio::detached);
        }
    }
};

loopback_server::loopback_server(request_handler handler, std::optional<test_pki> tls)
    : state_{std::make_unique<state>()} {
    state_->handler = std::move(handler);
    if (tls) {
        state_->tls.emplace(asio::ssl::context::tls_server);
        state_->tls->use_certificate_chain_file(tls->server_cert_file);
        state_->tls->use_private_key_file(tls->server_key_file, asio::ssl::context::pem);
    }
    tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), 0};
    state_->acceptor.open(endpoint.protocol());
    state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    state_->acceptor.bind(endpoint);
    state_->acceptor.listen();
    asio::co_spawn(state_->context, state_->accept_loop(), asio::detached);
    state_->thread = std::thread{[s = state_.get()] { s->context.run(); }};
}

loopback_server::~loopback_server() {
    state_->context.stop();
    state_->thread.join();
}

std::uint16_t loopback_server::port() const { return state_->acceptor.local_endpoint().port(); }

std::size_t loopback_server::connections_accepted() const { return state_->accepted; }

std::vector<http_request> loopback_server::requests() const {
    std::lock_guard lock{state_->mutex};
    return state_->requests;
}

}  // namespace rancher_ecr::testing
