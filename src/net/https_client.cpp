#include "net/https_client.hpp"

#include <map>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "version.hpp"

namespace rancher_ecr {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t max_header_bytes = 64 * 1024;

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

struct connection {
    std::variant<plain_stream, tls_stream> stream;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since;
};

std::string where(url const& endpoint) { return endpoint.host + ":" + std::to_string(endpoint.port); }

bool is_ip_literal(std::string const& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

std::string milliseconds_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// A failed handshake says why the certificate was refused, when it was.
std::string tls_reason(tls_stream& stream, boost::system::error_code const& ec) {
    long verify = SSL_get_verify_result(stream.native_handle());
    if (verify != X509_V_OK) return std::string{"certificate verify failed: "} + X509_verify_cert_error_string(verify);
    return ec.message();
}

http::request<http::string_body> to_beast(url const& endpoint, http_request const& request) {
    http::request<http::string_body> message;
    message.version(11);
    message.method_string(request.method);
    message.target(request.target);
    for (auto const& h : request.headers) message.insert(h.name, h.value);
    if (!request.header("host")) message.set(http::field::host, endpoint.authority());
    if (!request.header("user-agent"))
        message.set(http::field::user_agent, "rancher-ecr-credentials/" RANCHER_ECR_CREDENTIALS_VERSION);
    message.body() = request.body;
    message.prepare_payload();
    return message;
}

http_response from_beast(http::response<http::string_body>&& message) {
    http_response response;
    response.status = static_cast<int>(message.result_int());
    for (auto const& field : message)
        response.headers.push_back({std::string{field.name_string()}, std::string{field.value()}});
    response.body = std::move(message.body());
    return response;
}

failure exchange_failure(boost::system::error_code const& ec, url const& endpoint, https_client_options const& options,
                         char const* step) {
    if (ec == beast::error::timeout)
        return make_failure(failure_kind::timeout, "no response from " + where(endpoint) + " within " +
                                                       milliseconds_text(options.request_timeout));
    if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow)
        return make_failure(failure_kind::bad_response, "the response from " + where(endpoint) + " exceeds " +
                                                            std::to_string(options.max_response_bytes) + " bytes");
    if (ec.category() == http::make_error_code(http::error::bad_version).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
        return make_failure(failure_kind::bad_response, "malformed HTTP response from " + where(endpoint) + ": " +
                                                            ec.message());
    return make_failure(failure_kind::transport, std::string{step} + " " + where(endpoint) + " failed: " + ec.message());
}

}  // namespace

tls_trust::tls_trust(std::string ca_bundle) : ca_bundle_{std::move(ca_bundle)} {}

tls_trust::~tls_trust() = default;

result<asio::ssl::context*> tls_trust::context() {
    if (context_) return context_.get();
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    context->set_default_verify_paths(ec);  // the system store; OpenSSL honours SSL_CERT_FILE / SSL_CERT_DIR
    if (ec) return make_failure(failure_kind::config, "cannot load the system's CA certificates: " + ec.message());
    if (!ca_bundle_.empty()) {
        context->load_verify_file(ca_bundle_, ec);
        if (ec)
            return make_failure(failure_kind::config, "cannot load the CA bundle " + ca_bundle_ + ": " + ec.message() +
                                                          "; AWS_CA_BUNDLE must name a PEM file of certificates");
    }
    context->set_verify_mode(asio::ssl::verify_peer);
    context_ = std::move(context);
    return context_.get();
}

struct https_client::state {
    asio::any_io_executor executor;
    https_client_options options;
    std::map<std::string, std::unique_ptr<connection>, std::less<>> idle;  // by origin
    std::size_t opened = 0;

    asio::awaitable<result<std::unique_ptr<connection>>> connect(url const& endpoint);
    // `answered` tells whether any byte of a response arrived, even when the exchange failed.
    asio::awaitable<result<http_response>> exchange(connection& conn, url const& endpoint,
                                                    http::request<http::string_body>& message, bool& keep_alive,
                                                    bool& answered);
    std::unique_ptr<connection> take_idle(std::string const& origin);
};

https_client::https_client(asio::any_io_executor executor, https_client_options options)
    : state_{std::make_unique<state>()} {
    state_->executor = std::move(executor);
    state_->options = std::move(options);
    if (!state_->options.trust) state_->options.trust = std::make_shared<tls_trust>();
}

https_client::~https_client() = default;

std::size_t https_client::connections_opened() const { return state_->opened; }

void https_client::close_idle_connections() { state_->idle.clear(); }

std::unique_ptr<connection> https_client::state::take_idle(std::string const& origin) {
    auto it = idle.find(origin);
    if (it == idle.end()) return nullptr;
    auto conn = std::move(it->second);
    idle.erase(it);
    // Servers close idle connections on their own schedule; past ours a fresh one is cheaper than a failed try.
    if (std::chrono::steady_clock::now() - conn->idle_since > options.idle_timeout) return nullptr;
    return conn;
}

asio::awaitable<result<std::unique_ptr<connection>>> https_client::state::connect(url const& endpoint) {
    asio::ssl::context* tls_context = nullptr;
    if (endpoint.uses_tls()) {
        auto context = options.trust->context();
        if (!context) co_return context.error();
        tls_context = *context;
    }
    // The resolver has no deadline of its own: race it against a timer.
    tcp::resolver resolver{executor};
    asio::steady_timer resolve_deadline{executor, options.connect_timeout};
    auto [order, resolve_ec, endpoints, timer_ec] =
        co_await asio::experimental::make_parallel_group(
            resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), asio::deferred),
            resolve_deadline.async_wait(asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    (void)timer_ec;
    if (order[0] != 0)
        co_return make_failure(failure_kind::timeout, "resolving " + endpoint.host + " took longer than " +
                                                          milliseconds_text(options.connect_timeout));
    if (resolve_ec)
        co_return make_failure(failure_kind::resolve, "cannot resolve " + endpoint.host + ": " + resolve_ec.message());

    auto conn = tls_context ? std::make_unique<connection>(connection{tls_stream{executor, *tls_context}, {}, {}})
                            : std::make_unique<connection>(connection{plain_stream{executor}, {}, {}});
    auto& socket = std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); }, conn->stream);
    socket.expires_after(options.connect_timeout);
    auto [connect_ec, peer] = co_await socket.async_connect(endpoints, use_tuple);
    (void)peer;
    if (connect_ec == beast::error::timeout)
        co_return make_failure(failure_kind::timeout, "connecting to " + where(endpoint) + " took longer than " +
                                                          milliseconds_text(options.connect_timeout));
    if (connect_ec)
        co_return make_failure(failure_kind::connect, "cannot connect to " + where(endpoint) + ": " +
                                                          connect_ec.message());

    if (auto* tls = std::get_if<tls_stream>(&conn->stream)) {
        SSL* ssl = tls->native_handle();
        // OpenSSL checks the name itself (rather than a verify callback) so that a mismatch
        // is reported as such by SSL_get_verify_result.
        if (is_ip_literal(endpoint.host)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint.host.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
            SSL_set1_host(ssl, endpoint.host.c_str());
        }
        auto [handshake_ec] = co_await tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
        if (handshake_ec == beast::error::timeout)
            co_return make_failure(failure_kind::timeout, "TLS handshake with " + where(endpoint) +
                                                              " took longer than " +
                                                              milliseconds_text(options.connect_timeout));
        if (handshake_ec)
            co_return make_failure(failure_kind::tls, "TLS handshake with " + where(endpoint) + " failed: " +
                                                          tls_reason(*tls, handshake_ec));
    }
    ++opened;
    co_return conn;
}

asio::awaitable<result<http_response>> https_client::state::exchange(connection& conn, url const& endpoint,
                                                                     http::request<http::string_body>& message,
                                                                     bool& keep_alive, bool& answered) {
    co_return co_await std::visit(
        [&](auto& stream) -> asio::awaitable<result<http_response>> {
            beast::get_lowest_layer(stream).expires_after(options.request_timeout);
            auto [write_ec, written] = co_await http::async_write(stream, message, use_tuple);
            (void)written;
            if (write_ec) co_return exchange_failure(write_ec, endpoint, options, "sending the request to");

            http::response_parser<http::string_body> parser;
            parser.header_limit(max_header_bytes);
            parser.body_limit(options.max_response_bytes);
            auto [read_ec, read] = co_await http::async_read(stream, conn.buffer, parser, use_tuple);
            (void)read;
            answered = parser.got_some();
            if (read_ec) co_return exchange_failure(read_ec, endpoint, options, "reading the response from");
            keep_alive = parser.get().keep_alive();
            co_return from_beast(parser.release());
        },
        conn.stream);
}

asio::awaitable<result<http_response>> https_client::send(url const& endpoint, http_request request) {
    auto message = to_beast(endpoint, request);
    auto origin = endpoint.origin();
    auto conn = state_->take_idle(origin);
    bool reused = conn != nullptr;
    for (;;) {
        if (!conn) {
            auto fresh = co_await state_->connect(endpoint);
            if (!fresh) co_return fresh.error();
            conn = std::move(*fresh);
        }
        bool keep_alive = false;
        bool answered = false;
        auto response = co_await state_->exchange(*conn, endpoint, message, keep_alive, answered);
        // A kept-alive connection the server has meanwhile closed fails before any answer:
        // that request was not processed, so it goes once more on a new connection. Once
        // any of an answer has arrived, the server did act on it: no second try.
        if (!response && reused && !answered && response.error().kind == failure_kind::transport) {
            conn.reset();
            reused = false;
            continue;
        }
        if (response && keep_alive && !state_->idle.contains(origin)) {
            conn->idle_since = std::chrono::steady_clock::now();
            state_->idle.emplace(origin, std::move(conn));
        }
        co_return response;
    }
}

}  // namespace rancher_ecr
