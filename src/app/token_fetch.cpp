#include "app/token_fetch.hpp"

#include <boost/asio/this_coro.hpp>
#include <spdlog/spdlog.h>

#include "aws/ecr_client.hpp"
#include "aws/ecr_endpoint.hpp"
#include "net/https_client.hpp"
#include "obs/logging.hpp"

namespace rancher_ecr {

boost::asio::awaitable<bool> fetch_tokens_once(service_config const& config, aws_credentials const& credentials) {
    https_client_options options;
    if (config.ca_bundle) options.ca_bundle = *config.ca_bundle;
    https_client client{co_await boost::asio::this_coro::executor, options};
    ecr_client ecr{client, config.region, ecr_endpoint(config.region, config.ecr_endpoint)};

    spdlog::info("fetching ECR tokens from {} (region {}, credentials from {})", ecr.endpoint().origin(),
                 config.region, credentials.source);
    auto tokens = co_await ecr.get_authorization_tokens(credentials, config.registry_ids);
    if (!tokens) {
        spdlog::error("fetching ECR tokens failed: {}", describe(tokens.error()));
        co_return false;
    }
    for (auto const& token : *tokens)
        spdlog::info("ECR token for registry {} (user {}) expires at {}", token.registry_host, token.username,
                     format_utc(token.expires_at));
    co_return true;
}

}  // namespace rancher_ecr
