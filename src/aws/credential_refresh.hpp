#pragma once

#include <chrono>
#include <optional>

namespace rancher_ecr {

// When cached temporary credentials must be replaced. Credentials without an expiration
// (long-term keys) never are.

// A refresh is tried this long before the expiration (botocore's advisory window; ahead of its
// mandatory 10 minutes).
inline constexpr std::chrono::minutes credential_refresh_ahead{15};
// Credentials closer than this to their expiration are no longer used, even when a refresh fails:
// a request signed with them could arrive after they expired.
inline constexpr std::chrono::minutes credential_expiry_margin{1};

enum class credential_state {
    fresh,        // use them
    refresh_due,  // refresh them; if that fails, they may still be used
    expired,      // refresh them; they must not be used any more
};

// The state of credentials expiring at `expiration` (none: never) at time `now`. Pure.
credential_state assess_credentials(std::chrono::system_clock::time_point now,
                                    std::optional<std::chrono::system_clock::time_point> expiration);

}  // namespace rancher_ecr
