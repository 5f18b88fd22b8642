#pragma once

#include <boost/asio/awaitable.hpp>

#include "aws/credentials.hpp"
#include "error.hpp"

namespace rancher_ecr {

// Something that hands out AWS credentials: a provider of the chain (fetching every time), or
// the cache in front of it (credential_cache), which the ECR call site asks before each call.
class credential_source {
public:
    virtual ~credential_source() = default;

    // Completes with credentials (their `source` names the provider, never a secret) or with a
    // failure naming the provider and what went wrong. Never throws for I/O or remote failures.
    virtual boost::asio::awaitable<result<aws_credentials>> credentials() = 0;
};

}  // namespace rancher_ecr
