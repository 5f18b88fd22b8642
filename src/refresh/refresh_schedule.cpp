#include "refresh/refresh_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace rancher_ecr {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

effective_expiry assess_expiry(std::chrono::system_clock::time_point received_at,
                               std::chrono::system_clock::time_point reported, schedule_policy const& policy) {
    if (reported <= received_at || reported - received_at > policy.max_lifetime)
        return {received_at + policy.assumed_lifetime, true};
    return {reported, false};
}

milliseconds delay_after_success(std::chrono::system_clock::time_point now,
                                 std::chrono::system_clock::time_point expires_at, schedule_policy const& policy) {
    auto const half_remaining = duration_cast<milliseconds>(expires_at - now) / 2;
    auto const delay = std::min<milliseconds>(policy.interval, half_remaining);
    // The spacing guards against a short-lived token driving refreshes back to back; an
    // interval set below it is the operator's explicit wish and wins.
    return std::max<milliseconds>(delay, std::min<milliseconds>(policy.min_spacing, policy.interval));
}

milliseconds delay_after_failure(int failures, std::chrono::system_clock::time_point now,
                                 std::optional<std::chrono::system_clock::time_point> valid_until,
                                 schedule_policy const& policy, std::function<double()> const& random_unit) {
    // first_retry * 2^(failures-1), computed without overflow for any count of failures.
    milliseconds ceiling = policy.first_retry;
    for (int i = 1; i < failures && ceiling < policy.max_retry; ++i) ceiling *= 2;
    ceiling = std::min<milliseconds>(ceiling, policy.max_retry);
    // Never later than the next regular refresh would come: a short REFRESH_INTERVAL is wanted.
    ceiling = std::min(ceiling, std::max<milliseconds>(policy.interval, policy.min_retry));
    if (valid_until && *valid_until > now)
        ceiling = std::min(ceiling, duration_cast<milliseconds>(*valid_until - now) / 2);
    auto const unit = std::clamp(random_unit(), 0.0, 1.0);
    auto const jittered = milliseconds{static_cast<long long>(std::floor(unit * static_cast<double>(ceiling.count())))};
    return std::max<milliseconds>(jittered, policy.min_retry);
}

}  // namespace rancher_ecr
