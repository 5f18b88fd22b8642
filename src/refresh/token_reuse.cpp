#include "refresh/token_reuse.hpp"

#include <algorithm>

namespace rancher_ecr {

token_source next_token_source(std::optional<kept_tokens> const& kept, std::chrono::system_clock::time_point now,
                               schedule_policy const& policy) {
    if (!kept || kept->tokens.empty() || now < kept->received_at) return token_source::ecr;
    bool const all_fresh = std::ranges::all_of(kept->tokens, [&](ecr_authorization const& token) {
        auto const expires_at = assess_expiry(kept->received_at, token.expires_at, policy).at;
        auto const lifetime = expires_at - kept->received_at;
        return expires_at - now > lifetime / 2;
    });
    return all_fresh ? token_source::kept : token_source::ecr;
}

}  // namespace rancher_ecr
