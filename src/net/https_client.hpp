#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "net/http_transport.hpp"

namespace rancher_ecr {

struct https_client_options {
    std::chrono::milliseconds connect_timeout{5000};  // DNS, TCP connect and TLS handshake together
    std::chrono::milliseconds request_timeout{15000};  // writing the request and reading the whole response
    std::chrono::milliseconds idle_timeout{30000};     // a kept-alive connection idle longer is not reused
    std::size_t max_response_bytes = 8 * 1024 * 1024;   // a larger body fails the request
    std::string ca_bundle;  // extra trusted CAs (PEM file), on top of the system store and SSL_CERT_FILE
};

// An HTTP/1.1 client over TCP (http://) and TLS (https://). TLS verifies the certificate
// chain and the host name (SNI is sent); one idle connection per origin is kept alive and
// reused. Requests on one client may run concurrently; each gets its own connection then.
class https_client final : public http_transport {
public:
    https_client(boost::asio::any_io_executor executor, https_client_options options);
    ~https_client() override;
    https_client(https_client const&) = delete;
    https_client& operator=(https_client const&) = delete;

    boost::asio::awaitable<result<http_response>> send(url const& endpoint, http_request request) override;

    // How many connections were opened so far (for tests of keep-alive reuse).
    std::size_t connections_opened() const;

private:
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace rancher_ecr
