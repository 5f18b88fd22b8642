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
        std::chrono::system_clock::time_point expires_at;
    };
    std::vector<written_token> tokens;          // the tokens written, even when a later one failed
    std::optional<failure> problem;             // the first failure, if any
    refresh_failure_reason reason = refresh_failure_reason::ecr;  // meaningful with a problem

    bool ok() const { return !problem; }
    // The earliest expiry among the tokens written, if any.
    std::optional<std::chrono::system_clock::time_point> earliest_expiry() const;
};

// One refresh of one target: fetches the ECR token(s) for `registry_ids` (none: the caller's
// own registry) and writes each into the Rancher registry of its host. A token that fails to
// be written does not keep the others from being written. Completes with what was done; never
// throws for I/O or remote failures.
boost::asio::awaitable<refresh_outcome> refresh_registry_credentials(ecr_client& ecr, rancher_client& rancher,
                                                                     aws_credentials const& credentials,
                                                                     std::vector<std::string> const& registry_ids,
                                                                     bool auto_create);

}  // namespace rancher_ecr
