#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/ecr_token.hpp"
#include "error.hpp"

namespace rancher_ecr {

// Why a refresh failed, as the refresh-failure metric labels it.
enum class refresh_failure_reason { ecr, rancher, registry_not_found };

std::string_view to_string(refresh_failure_reason reason);

// What one refresh did. On success every token was written to Rancher.
struct refresh_outcome {
    struct written_token {
        std::string registry_host;
        std::chrono::system_clock::time_point expires_at;  // as ECR reported it
        std::string credential;                            // 2.x: the credentials' names, else empty
        std::optional<std::string> namespace_name;         // 2.x: the namespaces, nullopt when project-wide
    };
    std::vector<written_token> tokens;          // the tokens written, even when another one failed
    std::optional<failure> problem;             // the first failure, if any
    refresh_failure_reason reason = refresh_failure_reason::ecr;  // meaningful with a problem

    bool ok() const { return !problem; }
};

}  // namespace rancher_ecr
