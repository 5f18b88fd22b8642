#include "net/http_server.hpp"

#include <list>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace rancher_ecr {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

struct http_server::state : std::enable_shared_from_this<state> {
    state(asio::any_io_executor executor, http_server_options opts, http_handler h)
        : options{std::move(opts)}, handler{std::move(h)}, acceptor{std::move(executor)} {}

    http_server_options options;
    http_handler handler;
    tcp::acceptor acceptor;
    struct open_connection {
        beast::tcp_stream* stream;
        bool listed = true;  // false once evicted or stopped: the list no longer holds it
    };
    std::list<open_connection*> connections;  // open ones, oldest first
    bool stopped = false;

    asio::awaitable<void> session(tcp::socket socket);
};

asio::awaitable<void> http_server::state::session(tcp::socket socket) {
    auto self = shared_from_this();  // connections outlive no server state
    beast::tcp_stream stream{std::move(socket)};
    open_connection me{&stream};
    auto const position = connections.insert(connections.end(), &me);
    if (connections.size() > options.max_connections) {
        // Drop the longest-open connection: a probe that just arrived must get through.
        boost::system::error_code ignored;
        connections.front()->listed = false;
        connections.front()->stream->socket().close(ignored);
        connections.pop_front();
    }
    beast::flat_buffer buffer{options.max_request_bytes};
    http::response<http::string_body> response;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options.max_request_bytes));
        parser.body_limit(options.max_request_bytes);
        stream.expires_after(options.read_timeout);
        auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
        (void)read;
        if (read_ec) {
            if (read_ec == http::error::header_limit || read_ec == http::error::body_limit ||
                read_ec == http::error::buffer_overflow) {
                response = {http::status::payload_too_large, 11};
                response.set(http::field::content_type, "text/plain");
                response.set(http::field::connection, "close");
                response.body() = "request too large\n";
                response.prepare_payload();
                stream.expires_after(options.read_timeout);
                co_await http::async_write(stream, response, use_tuple);
            }
            break;
        }
        auto const& request = parser.get();
        auto answer = handler(request.method_string(), request.target());
        response = {static_cast<http::status>(answer.status), request.version()};
        for (auto& header : answer.headers) response.set(header.name, header.value);
        response.body() = std::move(answer.body);
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        stream.expires_after(options.read_timeout);
        auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
        (void)written;
        if (write_ec || !response.keep_alive()) break;
    }
    if (me.listed) connections.erase(position);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

result<std::unique_ptr<http_server>> http_server::listen(asio::any_io_executor executor, http_server_options options,
                                                         http_handler handler) {
    auto where = options.address + ":" + std::to_string(options.port);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(options.address, ec);
    if (ec) return make_failure(failure_kind::config, "cannot listen on " + where + ": invalid address");
    auto s = std::make_shared<state>(std::move(executor), std::move(options), std::move(handler));
    tcp::endpoint endpoint{address, s->options.port};
    s->acceptor.open(endpoint.protocol(), ec);
    if (!ec) s->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) s->acceptor.bind(endpoint, ec);
    if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return make_failure(failure_kind::config, "cannot listen on " + where + ": " + ec.message() +
                                                      "; choose another LISTEN_PORT or LISTEN_ADDRESS");
    return std::unique_ptr<http_server>{new http_server{std::move(s)}};
}

http_server::http_server(std::shared_ptr<state> s) : state_{std::move(s)} {}

http_server::~http_server() { stop(); }

std::uint16_t http_server::port() const { return state_->acceptor.local_endpoint().port(); }

asio::awaitable<void> http_server::run() {
    auto s = state_;
    while (!s->stopped) {
        auto [ec, socket] = co_await s->acceptor.async_accept(use_tuple);
        if (ec) {
            if (s->stopped || ec == asio::error::operation_aborted) break;
            continue;  // e.g. EMFILE: keep serving the connections we have
        }
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(s->acceptor.get_executor(), s->session(std::move(socket)), asio::detached);
    }
}

void http_server::stop() {
    if (state_->stopped) return;
    state_->stopped = true;
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    for (auto* connection : state_->connections) {
        connection->listed = false;
        connection->stream->socket().close(ignored);
    }
    state_->connections.clear();
}

}  // namespace rancher_ecr
