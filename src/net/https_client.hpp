#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "net/http_transport.hpp"
#include "net/proxy.hpp"

namespace boost::asio::ssl {
class context;
}

namespace rancher_ecr {

// The certificates TLS connections trust: the system store (OpenSSL's default paths, which
// honour SSL_CERT_FILE and SSL_CERT_DIR) and, when not empty, the PEM file `ca_bundle`. They are
// loaded at the first TLS connection that needs them, once for every client sharing the trust:
// a service that speaks plain HTTP only never loads them.
class tls_trust {
public:
    explicit tls_trust(std::string ca_bundle = {});
    ~tls_trust();
    tls_trust(tls_trust const&) = delete;
    tls_trust& operator=(tls_trust const&) = delete;

    // The client TLS context (TLS 1.2 or later, the peer's certificate and name verified), loaded
    // on the first call; a config failure naming the bundle when it cannot be loaded (asked again
    // on the next call).
    result<boost::asio::ssl::context*> context();
    bool loaded() const { return context_ != nullptr; }

private:
    std::string ca_bundle_;
    std::unique_ptr<boost::asio::ssl::context> context_;
};

struct https_client_options {
    std::chrono::milliseconds connect_timeout{5000};  // DNS, TCP connect and TLS handshake together
    std::chrono::milliseconds request_timeout{15000};  // writing the request and reading the whole response
    std::chrono::milliseconds idle_timeout{30000};     // a kept-alive connection idle longer is not reused
    // Kept-alive connections kept per origin: a client whose requests to an origin run concurrently
    // (behind origin_limit) keeps as many as it lets run, so that each request finds one.
    std::size_t max_idle_per_origin = 1;
    std::size_t max_response_bytes = 8 * 1024 * 1024;   // a larger body fails the request
    std::shared_ptr<tls_trust> trust;  // null: the system store, loaded for this client alone
    proxy_settings proxies;            // none: every connection direct
    // Added to the failure when no CA the client trusts signed the peer's certificate: what the
    // operator can do about it ("give its PEM file in CATTLE_CA_BUNDLE"). None: nothing added.
    std::string untrusted_certificate_hint;
};

// An HTTP/1.1 client over TCP (http://) and TLS (https://). TLS verifies the certificate
// chain and the host name (SNI is sent); up to max_idle_per_origin idle connections per origin are
// kept alive and reused (the most recently used first) until close_idle_connections(). Requests on
// one client may run concurrently; each gets its own connection then, and a new connection is
// opened only when no idle one is left, so an origin never has more connections than requests
// under way plus the idle ones kept. Through a proxy (options.proxies), an https:// origin's connection is
// a CONNECT tunnel with TLS end to end inside it, kept alive the same way; an http:// request goes
// to the proxy in absolute form. The proxy's failures (down, 407, another answer to CONNECT, no
// answer in time) are failures of kind proxy that name it, retryable.
class https_client final : public http_transport {
public:
    https_client(boost::asio::any_io_executor executor, https_client_options options);
    ~https_client() override;
    https_client(https_client const&) = delete;
    https_client& operator=(https_client const&) = delete;

    boost::asio::awaitable<result<http_response>> send(url const& endpoint, http_request request) override;

    // Closes the kept-alive connections. A service that talks to a host a few times a day calls
    // it after each exchange of requests: the host would close them anyway, and meanwhile they
    // hold a socket and TLS buffers.
    void close_idle_connections();

    // How many connections were opened so far (for tests of keep-alive reuse).
    std::size_t connections_opened() const;

private:
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace rancher_ecr
