#include "refresh/refresh_task.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "obs/logging.hpp"
#include "peer_text.hpp"

namespace rancher_ecr {

std::string_view to_string(refresh_failure_reason reason) {
    switch (reason) {
        case refresh_failure_reason::ecr: return "ecr";
        case refresh_failure_reason::rancher: return "rancher";
        case refresh_failure_reason::registry_not_found: return "registry_not_found";
    }
    return "ecr";
}

std::optional<std::chrono::system_clock::time_point> refresh_outcome::earliest_expiry() const {
    if (tokens.empty()) return std::nullopt;
    return std::ranges::min(tokens, {}, &written_token::expires_at).expires_at;
}

boost::asio::awaitable<result<std::vector<ecr_authorization>>> fetch_ecr_tokens(
    ecr_client& ecr, aws_credentials const& credentials, std::vector<std::string> const& registry_ids) {
    // The access key id goes in the Authorization header, the session token in its own; the secret
    // key never leaves, but a value that must not be quoted is masked all the same.
    for (auto const* secret : {&credentials.access_key_id, &credentials.secret_access_key, &credentials.session_token})
        mask_in_peer_text(*secret);
    auto tokens = co_await ecr.get_authorization_tokens(credentials, registry_ids);
    if (!tokens) {
        spdlog::error("fetching the ECR token failed: {}", describe(tokens.error()));
        co_return tokens.error();
    }
    // Before any Rancher request carries them.
    for (auto const& token : *tokens) mask_in_peer_text(token.password);
    co_return std::move(*tokens);
}

boost::asio::awaitable<refresh_outcome> write_tokens(rancher_client& rancher, std::vector<ecr_authorization> tokens,
                                                     bool auto_create) {
    refresh_outcome outcome;
    for (auto& token : tokens) {
        auto written =
            co_await rancher.write_registry_credential(token.registry_host, token.username, token.password, auto_create);
        if (!written) {
            spdlog::error("writing the credential of registry {} to Rancher failed: {}", token.registry_host,
                          describe(written.error()));
            if (!outcome.problem) {
                outcome.problem = written.error();
                outcome.reason = written.error().code == "RegistryNotFound" ? refresh_failure_reason::registry_not_found
                                                                              : refresh_failure_reason::rancher;
            }
            outcome.unwritten.push_back(std::move(token));
            continue;
        }
        spdlog::info("registry {} (Rancher registry {}): credential written ({} updated, {} created{}), token "
                     "expires at {}",
                     token.registry_host, written->registry_id, written->credentials_updated,
                     written->credentials_created, written->registry_created ? ", registry created" : "",
                     format_utc(token.expires_at));
        outcome.tokens.push_back({token.registry_host, token.expires_at});
    }
    co_return outcome;
}

}  // namespace rancher_ecr
