#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "aws/credentials.hpp"
#include "aws/ecr_client.hpp"
#include "error.hpp"
#include "rancher/credential_writer.hpp"
#include "refresh/refresh_outcome.hpp"

namespace rancher_ecr {

// The refresh of one target takes two steps, so that a retry of the second need not repeat the
// first (ECR throttles GetAuthorizationToken; see next_token_source for when a token is kept).

// Step 1: asks ECR for the tokens of `registry_ids` (none: the caller's own registry). The secrets
// the call carries (the AWS keys and session token) and the passwords it brings are registered
// with mask_in_peer_text, so that no peer's error answer that echoes them gets quoted. Completes
// with every token, or with the failure, logged; never throws for I/O or remote failures.
boost::asio::awaitable<result<std::vector<ecr_authorization>>> fetch_ecr_tokens(
    ecr_client& ecr, aws_credentials const& credentials, std::vector<std::string> const& registry_ids);

// Step 2: writes `tokens` into Rancher through `writer`. A token that fails to be written (in any
// of its places) does not keep the others from being written. Completes with what was done, each
// failure logged by the writer; never throws for I/O or remote failures.
boost::asio::awaitable<refresh_outcome> write_tokens(credential_writer& writer, std::vector<ecr_authorization> tokens);

}  // namespace rancher_ecr
