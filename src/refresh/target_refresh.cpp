#include "refresh/target_refresh.hpp"

#include <algorithm>

namespace rancher_ecr {

refresh_step target_refresh::start(std::chrono::system_clock::time_point now) {
    received_at_.reset();
    writing_.clear();
    if (next_token_source(kept_, now, policy_) == token_source::kept) {
        received_at_ = kept_->received_at;
        writing_ = std::move(kept_->tokens);
        kept_.reset();
        return write_tokens_step{writing_, true};
    }
    kept_.reset();
    return fetch_tokens_step{};
}

write_tokens_step target_refresh::tokens_fetched(std::vector<ecr_authorization> tokens,
                                                 std::chrono::system_clock::time_point started) {
    received_at_ = started;
    writing_ = std::move(tokens);
    return write_tokens_step{writing_, false};
}

wait_step target_refresh::finished(refresh_outcome const& outcome, std::chrono::system_clock::time_point now,
                                   double random_unit) {
    wait_step wait{std::chrono::milliseconds{0}, {}};
    // A nonsense expiry counts from when ECR gave the token, not from a later write.
    auto const received = received_at_.value_or(now);
    std::optional<std::chrono::system_clock::time_point> earliest;
    for (auto const& token : outcome.tokens) {
        auto expiry = assess_expiry(received, token.expires_at, policy_);
        earliest = earliest ? std::min(*earliest, expiry.at) : expiry.at;
        wait.expiries.push_back(expiry);
    }
    if (earliest) valid_until_ = earliest;
    // A failed write's tokens wait for the retries while next_token_source finds them fresh enough.
    kept_.reset();
    if (!outcome.ok() && !writing_.empty() && received_at_) kept_ = kept_tokens{std::move(writing_), *received_at_};
    writing_.clear();
    received_at_.reset();
    if (outcome.ok() && valid_until_) {
        failures_ = 0;
        wait.delay = delay_after_success(now, *valid_until_, policy_);
    } else {
        failures_ = outcome.ok() ? 0 : failures_ + 1;
        wait.delay = delay_after_failure(std::max(failures_, 1), now, valid_until_, policy_, [=] { return random_unit; });
    }
    return wait;
}

}  // namespace rancher_ecr
