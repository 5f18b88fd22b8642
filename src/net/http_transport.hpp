#pragma once

#include <boost/asio/awaitable.hpp>

#include "error.hpp"
#include "net/http_message.hpp"
#include "net/url.hpp"

namespace rancher_ecr {

// Sends one HTTP request and returns the response. The seam between the clients
// (ECR, Rancher) and the network: https_client is the real one, tests script a fake.
class http_transport {
public:
    virtual ~http_transport() = default;

    // Sends `request` to the origin of `endpoint` (its scheme, host and port; the request
    // carries its own target). Completes with the response, whatever its status, or with a
    // failure naming the step that failed (resolve, connect, TLS, timeout, transport) and
    // the host. Never throws for network trouble.
    virtual boost::asio::awaitable<result<http_response>> send(url const& endpoint, http_request request) = 0;
};

}  // namespace rancher_ecr
