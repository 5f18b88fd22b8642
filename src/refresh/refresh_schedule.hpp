#pragma once

#include <chrono>
#include <functional>
#include <optional>

namespace rancher_ecr {

// The knobs of the refresh schedule. The defaults suit ECR's 12-hour tokens.
struct schedule_policy {
    std::chrono::milliseconds interval{std::chrono::hours{6}};  // REFRESH_INTERVAL
    std::chrono::seconds min_spacing{30};       // never two refreshes closer than this after a success
    std::chrono::seconds first_retry{2};        // backoff ceiling of the first retry
    std::chrono::seconds max_retry{300};        // backoff ceiling after many failures
    std::chrono::seconds min_retry{1};          // never retry sooner than this
    std::chrono::hours assumed_lifetime{12};    // ECR's documented token lifetime, for nonsense expiries
    std::chrono::hours max_lifetime{24 * 7};    // an expiresAt further ahead than this is nonsense
};

// The expiry the service acts on, and whether ECR's was ignored for it.
struct effective_expiry {
    std::chrono::system_clock::time_point at;
    bool reported_ignored = false;  // expiresAt was already past or absurdly far ahead
};

// A token received at `received_at` claims to expire at `reported`. ECR never hands out a token
// that has already expired (emulators send a date in 2015) or one that lives for weeks; such an
// expiry is ignored and the documented lifetime assumed instead, so that neither the schedule
// spins nor the health check fails on an emulator's oddity.
effective_expiry assess_expiry(std::chrono::system_clock::time_point received_at,
                               std::chrono::system_clock::time_point reported, schedule_policy const& policy);

// The delay after a successful refresh: the interval, or half the token's remaining lifetime
// when that comes first (a token that lives 12 hours is replaced after 6 at the latest), and
// never less than min_spacing, or than the interval when that is set shorter.
std::chrono::milliseconds delay_after_success(std::chrono::system_clock::time_point now,
                                              std::chrono::system_clock::time_point expires_at,
                                              schedule_policy const& policy);

// The delay after the `failures`-th failure in a row (1 for the first): exponential backoff
// with full jitter (`random_unit` returns a number in [0, 1)), first_retry doubling up to
// max_retry, or up to the interval when that is shorter (a failure is never retried later than
// the next regular refresh would come), and, while the token in Rancher is still valid, at most
// half of its remaining lifetime, so that retries keep coming before it expires. Never less than
// min_retry.
std::chrono::milliseconds delay_after_failure(int failures, std::chrono::system_clock::time_point now,
                                              std::optional<std::chrono::system_clock::time_point> valid_until,
                                              schedule_policy const& policy,
                                              std::function<double()> const& random_unit);

}  // namespace rancher_ecr
