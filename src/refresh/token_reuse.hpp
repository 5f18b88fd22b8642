#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "aws/ecr_token.hpp"
#include "refresh/refresh_schedule.hpp"

namespace rancher_ecr {

// The ECR tokens of one refresh target that are not yet written into Rancher, kept so that a retry
// of the write does not ask ECR again: ECR throttles GetAuthorizationToken, and a token a minute
// old is as good as a new one.
struct kept_tokens {
    std::vector<ecr_authorization> tokens;  // their passwords are secrets
    std::chrono::system_clock::time_point received_at;
};

// Where the next try of a target takes its tokens from.
enum class token_source { kept, ecr };

// `kept` while every kept token has more than half of its lifetime left at `now`, its lifetime
// running from `received_at` to its effective expiry (assess_expiry: an emulator's expiry in 2015
// counts as ECR's documented 12 hours), so that what Rancher gets still lasts as long as the
// schedule expects of a fresh token; `ecr` when nothing is kept, when a kept token is past that
// point, or when the clock went back behind `received_at` (the tokens' age is unknown then).
token_source next_token_source(std::optional<kept_tokens> const& kept, std::chrono::system_clock::time_point now,
                               schedule_policy const& policy);

}  // namespace rancher_ecr
