#pragma once

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "aws/credential_chain.hpp"
#include "aws/credential_source.hpp"
#include "error.hpp"
#include "net/http_transport.hpp"
#include "net/url.hpp"

namespace rancher_ecr {

// The transports the providers fetch through, each with the deadlines its peer calls for; they
// must outlive the sources built on them.
struct credential_transports {
    http_transport& sts;                // STS, over TLS like ECR
    http_transport& container;          // the container endpoint: 2 s per try
    http_transport& instance_metadata;  // the instance metadata service: 1 s per request
};

// The sources that carry out `plan`: the base provider, then an STS AssumeRole per role, each
// step behind a credential_cache (so a role's source credentials are refreshed only when they
// near their own expiration). Returns the cache of the last step, the one the ECR call site asks.
// STS calls go to `sts` and are signed for `region`.
std::unique_ptr<credential_source> make_credential_source(credential_plan const& plan,
                                                          credential_transports transports,
                                                          std::string const& region, url const& sts);

// The instance's region (IMDSv2 token, IMDSv1 when allowed, then /latest/meta-data/placement/region).
// Completes with the region as IMDS wrote it, or a failure naming the endpoint; never throws.
boost::asio::awaitable<result<std::string>> instance_metadata_region(http_transport& transport,
                                                                     instance_metadata const& settings);

}  // namespace rancher_ecr
