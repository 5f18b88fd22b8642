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

#include "net/coroutine_warning.hpp"
#include "net/open_files.hpp"
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

// The peer as messages name it: the target, and the proxy it is reached through (never its credentials).
std::string where(url const& endpoint, proxy_server const* proxy) {
    return proxy ? where(endpoint) + " through the proxy " + proxy->where() : where(endpoint);
}

// host:port as CONNECT's request target wants it, IPv6 in brackets.
std::string tunnel_target(url const& endpoint) {
    auto host = endpoint.host.find(':') != std::string::npos ? "[" + endpoint.host + "]" : endpoint.host;
    return host + ":" + std::to_string(endpoint.port);
}

failure proxy_failure(std::string message, int http_status = 0) {
    auto problem = make_failure(failure_kind::proxy, std::move(message));
    problem.http_status = http_status;
    return problem;
}

std::string proxy_refusal(int status, proxy_server const& proxy) {
    if (status == 407)
        return proxy.authorization.empty()
                   ? "the proxy asks for credentials (407 Proxy Authentication Required) and none were given"
                   : "the proxy refused its credentials (407 Proxy Authentication Required): the user or password "
                     "is wrong";
    return "the proxy answered " + std::to_string(status) + " " +
           std::string{http::obsolete_reason(static_cast<http::status>(status))};
}

bool is_ip_literal(std::string const& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

std::string milliseconds_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// A failed handshake says why the certificate was refused, when it was.
// Why a handshake failed; for a certificate that no trusted CA signed, with `untrusted_hint`.
std::string tls_reason(tls_stream& stream, boost::system::error_code const& ec, std::string const& untrusted_hint) {
    long verify = SSL_get_verify_result(stream.native_handle());
    if (verify == X509_V_OK) return ec.message();
    std::string reason = std::string{"certificate verify failed: "} + X509_verify_cert_error_string(verify);
    bool const untrusted = verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                           verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
                           verify == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
                           verify == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN || verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
    if (untrusted && !untrusted_hint.empty()) reason += "; " + untrusted_hint;
    return reason;
}

// Through a proxy, a request to an http:// target carries the absolute URL and the proxy's credentials.
http::request<http::string_body> to_beast(url const& endpoint, http_request const& request, proxy_server const* proxy) {
    bool const forwarded = proxy && !endpoint.uses_tls();
    http::request<http::string_body> message;
    message.version(11);
    message.method_string(request.method);
    message.target(forwarded ? endpoint.origin() + request.target : request.target);
    for (auto const& h : request.headers) message.insert(h.name, h.value);
    if (forwarded && !proxy->authorization.empty())
        message.set(http::field::proxy_authorization, proxy->authorization);
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

// `peer`: where(endpoint, proxy).
failure exchange_failure(boost::system::error_code const& ec, std::string const& peer,
                         https_client_options const& options, char const* step) {
    if (ec == beast::error::timeout)
        return make_failure(failure_kind::timeout, "no response from " + peer + " within " +
                                                       milliseconds_text(options.request_timeout));
    if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow)
        return make_failure(failure_kind::bad_response, "the response from " + peer + " exceeds " +
                                                            std::to_string(options.max_response_bytes) + " bytes");
    if (ec.category() == http::make_error_code(http::error::bad_version).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
        return make_failure(failure_kind::bad_response, "malformed HTTP response from " + peer + ": " + ec.message());
    return make_failure(failure_kind::transport, std::string{step} + " " + peer + " failed: " + ec.message());
}

// Asks the proxy for a tunnel to `endpoint` on the connected `socket` (RFC 9110 9.3.6), within the
// deadline already set on it. Success leaves the socket at the start of the tunnel.
asio::awaitable<result<void>> open_tunnel(beast::tcp_stream& socket, url const& endpoint, proxy_server const& proxy,
                                          https_client_options const& options) {
    auto const target = tunnel_target(endpoint);
    auto const peer = "the proxy " + proxy.where() + " (CONNECT " + target + ")";
    http::request<http::empty_body> request{http::verb::connect, target, 11};
    request.set(http::field::host, target);
    request.set(http::field::user_agent, "rancher-ecr-credentials/" RANCHER_ECR_CREDENTIALS_VERSION);
    if (!proxy.authorization.empty()) request.set(http::field::proxy_authorization, proxy.authorization);
    auto [write_ec, written] = co_await http::async_write(socket, request, use_tuple);
    (void)written;
    if (write_ec == beast::error::timeout)
        co_return proxy_failure(peer + ": no answer within " + milliseconds_text(options.connect_timeout));
    if (write_ec) co_return proxy_failure("sending CONNECT to " + peer + " failed: " + write_ec.message());

    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // an answer to CONNECT ends with its header: a tunnel, or a refusal we do not read on
    parser.header_limit(max_header_bytes);
    auto [read_ec, read] = co_await http::async_read_header(socket, buffer, parser, use_tuple);
    (void)read;
    if (read_ec == beast::error::timeout)
        co_return proxy_failure(peer + ": no answer within " + milliseconds_text(options.connect_timeout));
    if (read_ec) co_return proxy_failure("reading the answer of " + peer + " failed: " + read_ec.message());
    auto const status = static_cast<int>(parser.get().result_int());
    if (status / 100 != 2) co_return proxy_failure(peer + ": " + proxy_refusal(status, proxy), status);
    // The target speaks only after our TLS hello: bytes before it are not the target's.
    if (buffer.size() != 0)
        co_return make_failure(failure_kind::bad_response, peer + ": data arrived in the tunnel before TLS began");
    co_return result<void>{};
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
                                                          "; it must be a PEM file of certificates");
    }
    context->set_verify_mode(asio::ssl::verify_peer);
    context_ = std::move(context);
    return context_.get();
}

struct https_client::state {
    asio::any_io_executor executor;
    https_client_options options;
    // By origin, the most recently used last.
    std::map<std::string, std::vector<std::unique_ptr<connection>>, std::less<>> idle;
    std::size_t opened = 0;

    // A connection to `endpoint`: direct, or through `proxy` when not null.
    asio::awaitable<result<std::unique_ptr<connection>>> connect(url const& endpoint, proxy_server const* proxy);
    // `answered` tells whether any byte of a response arrived, even when the exchange failed.
    asio::awaitable<result<http_response>> exchange(connection& conn, std::string const& peer,
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
    auto& kept = it->second;
    // Servers close idle connections on their own schedule; past ours a fresh one is cheaper than a
    // failed try. The oldest are at the front: past the timeout, every one before them is too.
    auto const now = std::chrono::steady_clock::now();
    auto const stale = std::ranges::find_if(kept, [&](auto const& conn) { return now - conn->idle_since <= options.idle_timeout; });
    kept.erase(kept.begin(), stale);
    if (kept.empty()) {
        idle.erase(it);
        return nullptr;
    }
    auto conn = std::move(kept.back());
    kept.pop_back();
    return conn;
}

asio::awaitable<result<std::unique_ptr<connection>>> https_client::state::connect(url const& endpoint,
                                                                                  proxy_server const* proxy) {
    asio::ssl::context* tls_context = nullptr;
    if (endpoint.uses_tls()) {
        auto context = options.trust->context();
        if (!context) co_return context.error();
        tls_context = *context;
    }
    auto const& host = proxy ? proxy->host : endpoint.host;
    auto const port = proxy ? proxy->port : endpoint.port;
    // What a failure to reach the first hop names: the target, or the proxy (kind proxy) and what it was for.
    auto const first_hop = proxy ? "the proxy " + proxy->where() + " (for " + where(endpoint) + ")" : where(endpoint);
    auto hop_failure = [&](failure_kind kind, std::string message) {
        return proxy ? proxy_failure(std::move(message)) : make_failure(kind, std::move(message));
    };
    // The resolver has no deadline of its own: race it against a timer.
    tcp::resolver resolver{executor};
    asio::steady_timer resolve_deadline{executor, options.connect_timeout};
    auto [order, resolve_ec, endpoints, timer_ec] =
        co_await asio::experimental::make_parallel_group(
            resolver.async_resolve(host, std::to_string(port), asio::deferred),
            resolve_deadline.async_wait(asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    (void)timer_ec;
    if (order[0] != 0)
        co_return hop_failure(failure_kind::timeout, "resolving " + (proxy ? first_hop : host) + " took longer than " +
                                                         milliseconds_text(options.connect_timeout));
    if (resolve_ec)
        co_return hop_failure(failure_kind::resolve,
                              "cannot resolve " + (proxy ? first_hop : host) + ": " + resolve_ec.message());

    auto conn = tls_context ? std::make_unique<connection>(connection{tls_stream{executor, *tls_context}, {}, {}})
                            : std::make_unique<connection>(connection{plain_stream{executor}, {}, {}});
    auto& socket = std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); }, conn->stream);
    // One deadline for the TCP connect, the proxy's tunnel and the TLS handshake together.
    socket.expires_after(options.connect_timeout);
    // Each address in turn, not async_connect of the range: that reports a socket it could not
    // open (EMFILE) as "Operation canceled".
    boost::system::error_code connect_ec = asio::error::host_not_found;  // when no address was resolved
    bool first = true;
    for (auto const& address : endpoints) {
        if (!first) {
            boost::system::error_code ignored;
            socket.socket().close(ignored);
        }
        first = false;
        auto [ec] = co_await socket.async_connect(address.endpoint(), use_tuple);
        connect_ec = ec;
        if (!connect_ec || connect_ec == beast::error::timeout || connect_ec == asio::error::no_descriptors) break;
    }
    if (connect_ec == asio::error::no_descriptors)
        co_return make_failure(failure_kind::connect, "cannot open a connection to " + first_hop + ": " +
                                                          connect_ec.message() + " (" + open_file_limit() +
                                                          ", and each connection takes a file descriptor: raise the limit)");
    if (connect_ec == beast::error::timeout)
        co_return hop_failure(failure_kind::timeout, "connecting to " + first_hop + " took longer than " +
                                                         milliseconds_text(options.connect_timeout));
    if (connect_ec)
        co_return hop_failure(failure_kind::connect, "cannot connect to " + first_hop + ": " + connect_ec.message());
    if (proxy && tls_context) {
        auto tunnel = co_await open_tunnel(socket, endpoint, *proxy, options);
        if (!tunnel) co_return tunnel.error();
    }

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
            co_return make_failure(failure_kind::timeout, "TLS handshake with " + where(endpoint, proxy) +
                                                              " took longer than " +
                                                              milliseconds_text(options.connect_timeout));
        if (handshake_ec)
            co_return make_failure(failure_kind::tls, "TLS handshake with " + where(endpoint, proxy) + " failed: " +
                                                          tls_reason(*tls, handshake_ec, options.untrusted_certificate_hint));
    }
    ++opened;
    co_return conn;
}

asio::awaitable<result<http_response>> https_client::state::exchange(connection& conn, std::string const& peer,
                                                                     http::request<http::string_body>& message,
                                                                     bool& keep_alive, bool& answered) {
    co_return co_await std::visit(
        [&](auto& stream) -> asio::awaitable<result<http_response>> {
            beast::get_lowest_layer(stream).expires_after(options.request_timeout);
            auto [write_ec, written] = co_await http::async_write(stream, message, use_tuple);
            (void)written;
            if (write_ec) co_return exchange_failure(write_ec, peer, options, "sending the request to");

            http::response_parser<http::string_body> parser;
            parser.header_limit(max_header_bytes);
            parser.body_limit(options.max_response_bytes);
            auto [read_ec, read] = co_await http::async_read(stream, conn.buffer, parser, use_tuple);
            (void)read;
            answered = parser.got_some();
            if (read_ec) co_return exchange_failure(read_ec, peer, options, "reading the response from");
            keep_alive = parser.get().keep_alive();
            co_return from_beast(parser.release());
        },
        conn.stream);
}

asio::awaitable<result<http_response>> https_client::send(url const& endpoint, http_request request) {
    auto const* proxy = state_->options.proxies.proxy_for(endpoint);
    auto const peer = where(endpoint, proxy);
    auto message = to_beast(endpoint, request, proxy);
    auto origin = endpoint.origin();
    auto conn = state_->take_idle(origin);
    bool reused = conn != nullptr;
    for (;;) {
        if (!conn) {
            auto fresh = co_await state_->connect(endpoint, proxy);
            if (!fresh) co_return fresh.error();
            conn = std::move(*fresh);
        }
        bool keep_alive = false;
        bool answered = false;
        auto response = co_await state_->exchange(*conn, peer, message, keep_alive, answered);
        // A kept-alive connection the server has meanwhile closed fails before any answer:
        // that request was not processed, so it goes once more on a new connection. Once
        // any of an answer has arrived, the server did act on it: no second try.
        if (!response && reused && !answered && response.error().kind == failure_kind::transport) {
            conn.reset();
            reused = false;
            continue;
        }
        // A forwarded request that the proxy itself refused is the proxy's failure, not the target's answer.
        if (response && response->status == 407 && proxy && !endpoint.uses_tls())
            co_return proxy_failure("the proxy " + proxy->where() + " (" + request.method + " " + origin +
                                        "): " + proxy_refusal(407, *proxy),
                                    407);
        if (response && keep_alive) {
            auto& kept = state_->idle[origin];
            if (kept.size() < state_->options.max_idle_per_origin) {
                conn->idle_since = std::chrono::steady_clock::now();
                kept.push_back(std::move(conn));
            }
        }
        co_return response;
    }
}

}  // namespace rancher_ecr
