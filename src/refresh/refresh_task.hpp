#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "aws/credentials.hpp"
#include "aws/ecr_client.hpp"
#include "error.hpp"
#include "rancher/rancher_client.hpp"

namespace rancher_ecr {

// Why a refresh failed, as the refresh-failure metric labels it.
enum class refresh_failure_reason { ecr, rancher, registry_not_found };

std::string_view to_string(refresh_failure_reason reason);

// What one refresh did. On success every token was written to Rancher.
struct refresh_outcome {
    struct written_token {
        std::string registry_host;
        std::chrono::system_clock::time_point expires_at;  // as ECR reported it
    };
    std::vector<written_token> tokens;          // the tokens written, even when a later one failed
    std::vector<ecr_authorization> unwritten;   // the tokens whose write failed, for the retry (secrets)
    std::optional<failure> problem;             // the first failure, if any
    refresh_failure_reason reason = refresh_failure_reason::ecr;  // meaningful with a problem

    bool ok() const { return !problem; }
    // The earliest expiry among the tokens written, if any.
    std::optional<std::chrono::system_clock::time_point> earliest_expiry() const;
};

// The refresh of one target takes two steps, so that a retry of the second need not repeat the
// first (ECR throttles GetAuthorizationToken; see next_token_source for when a token is kept).

// Step 1: asks ECR for the tokens of `registry_ids` (none: the caller's own registry). The secrets
// the call carries (the AWS keys and session token) and the passwords it brings are registered
// with mask_in_peer_text, so that no peer's error answer that echoes them gets quoted. Completes
// with every token, or with the failure, logged; never throws for I/O or remote failures.
boost::asio::awaitable<result<std::vector<ecr_authorization>>> fetch_ecr_tokens(
    ecr_client& ecr, aws_credentials const& credentials, std::vector<std::string> const& registry_ids);

// Step 2: writes each of `tokens` into the Rancher registry of its host. A token that fails to be
// written does not keep the others from being written; it is handed back in `unwritten`. Completes
// with what was done, each failure logged; never throws for I/O or remote failures.
boost::asio::awaitable<refresh_outcome> write_tokens(rancher_client& rancher, std::vector<ecr_authorization> tokens,
                                                     bool auto_create);

}  // namespace rancher_ecr
