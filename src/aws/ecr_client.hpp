#pragma once

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "aws/credentials.hpp"
#include "aws/ecr_token.hpp"
#include "error.hpp"
#include "net/http_transport.hpp"
#include "net/url.hpp"

namespace rancher_ecr {

// Asks ECR for registry passwords (GetAuthorizationToken, AWS JSON 1.1, SigV4 signed for
// `region` and service "ecr") at `endpoint` through `transport`, which must outlive it.
class ecr_client {
public:
    ecr_client(http_transport& transport, std::string region, url endpoint);

    // One token per id in `registry_ids` (none: the caller's own registry). Completes with every
    // entry of the answer, or with a failure: the transport's, an AWS error (kind service, with
    // its code and whether a retry can help) or a malformed answer (kind bad_response).
    boost::asio::awaitable<result<std::vector<ecr_authorization>>> get_authorization_tokens(
        aws_credentials const& credentials, std::vector<std::string> const& registry_ids);

    url const& endpoint() const { return endpoint_; }

private:
    http_transport& transport_;
    std::string region_;
    url endpoint_;
};

}  // namespace rancher_ecr
