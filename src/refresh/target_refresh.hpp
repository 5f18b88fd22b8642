#pragma once

#include <chrono>
#include <optional>
#include <variant>
#include <vector>

#include "aws/ecr_token.hpp"
#include "refresh/refresh_schedule.hpp"
#include "refresh/refresh_outcome.hpp"
#include "refresh/token_reuse.hpp"

namespace rancher_ecr {

// The steps of one target's refresh, as values: the coroutine that performs them (app/service)
// holds no decisions of its own.
struct fetch_tokens_step {};  // ask the AWS credentials, then ECR (fetch_ecr_tokens)
struct write_tokens_step {    // write these into Rancher (write_tokens)
    std::vector<ecr_authorization> tokens;
    bool kept = false;  // the tokens of an earlier try, not yet written
};
struct wait_step {  // then start the next refresh
    std::chrono::milliseconds delay;
    // The expiry acted on for each token the refresh wrote (outcome.tokens, in order).
    std::vector<effective_expiry> expiries;
};
using refresh_step = std::variant<fetch_tokens_step, write_tokens_step, wait_step>;

// The refresh state machine of one target, free of I/O and timers: given its state, `now` and the
// last outcome, it returns the next step. A refresh goes start -> [tokens_fetched ->] finished:
//   start:          write_tokens_step with the kept tokens while next_token_source says `kept`
//                   (ECR throttles GetAuthorizationToken), else fetch_tokens_step;
//   tokens_fetched: the fresh tokens to write, their lifetime counted from `started` (before the
//                   call, so that it is never overestimated);
//   finished:       after a failed write keeps the tokens of the refresh, all of them, for the
//                   retries (a 2.x credential holding two hosts needs both in one write; writing
//                   a token again is harmless), counts the failures in a row, and returns the
//                   wait: delay_after_success from the earliest expiry in Rancher, else
//                   delay_after_failure with the backoff and that expiry.
class target_refresh {
public:
    explicit target_refresh(schedule_policy policy) : policy_{policy} {}

    refresh_step start(std::chrono::system_clock::time_point now);
    write_tokens_step tokens_fetched(std::vector<ecr_authorization> tokens, std::chrono::system_clock::time_point started);
    // `random_unit` in [0, 1), for the backoff's jitter.
    wait_step finished(refresh_outcome const& outcome, std::chrono::system_clock::time_point now, double random_unit);

    int failures() const { return failures_; }
    // The earliest expiry among the tokens in Rancher, as far as this target wrote them.
    std::optional<std::chrono::system_clock::time_point> valid_until() const { return valid_until_; }
    bool holds_kept_tokens() const { return kept_.has_value(); }

private:
    schedule_policy policy_;
    int failures_ = 0;
    std::optional<kept_tokens> kept_;
    // The tokens being written by the refresh under way, and when ECR gave them.
    std::vector<ecr_authorization> writing_;
    std::optional<std::chrono::system_clock::time_point> received_at_;
    std::optional<std::chrono::system_clock::time_point> valid_until_;
};

}  // namespace rancher_ecr
