#include "refresh/refresh_task.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "obs/logging.hpp"
#include "peer_text.hpp"

namespace rancher_ecr {

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

boost::asio::awaitable<refresh_outcome> write_tokens(credential_writer& writer, std::vector<ecr_authorization> tokens) {
    auto const report = co_await writer.write(tokens);
    refresh_outcome outcome;
    for (auto& token : tokens) {
        std::optional<failure> problem;
        std::vector<std::string> credentials;
        std::vector<std::string> namespaces;
        for (auto const& entry : report.hosts) {
            if (entry.registry_host != token.registry_host) continue;
            if (entry.problem && !problem) problem = entry.problem;
            if (!entry.credential.empty() && std::ranges::find(credentials, entry.credential) == credentials.end())
                credentials.push_back(entry.credential);
            if (entry.namespace_name) namespaces.push_back(*entry.namespace_name);
        }
        if (problem) {
            if (!outcome.problem) {
                outcome.problem = problem;
                outcome.reason = problem->refused == refusal::registry_not_found ? refresh_failure_reason::registry_not_found
                                                                                  : refresh_failure_reason::rancher;
            }
            continue;
        }
        auto comma_list = [](std::vector<std::string> const& names) {
            std::string text;
            for (auto const& name : names) text += (text.empty() ? "" : ",") + name;
            return text;
        };
        outcome.tokens.push_back({token.registry_host, token.expires_at, comma_list(credentials),
                                  namespaces.empty() ? std::nullopt : std::optional{comma_list(namespaces)}});
    }
    co_return outcome;
}

}  // namespace rancher_ecr
