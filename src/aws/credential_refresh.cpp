#include "aws/credential_refresh.hpp"

namespace rancher_ecr {

credential_state assess_credentials(std::chrono::system_clock::time_point now,
                                    std::optional<std::chrono::system_clock::time_point> expiration) {
    if (!expiration) return credential_state::fresh;
    if (now >= *expiration - credential_expiry_margin) return credential_state::expired;
    if (now >= *expiration - credential_refresh_ahead) return credential_state::refresh_due;
    return credential_state::fresh;
}

}  // namespace rancher_ecr
