#include "app/aws_setup.hpp"

#include <utility>

#include <spdlog/spdlog.h>

#include "obs/logging.hpp"

namespace rancher_ecr {

namespace {

// The instance metadata service answers within a second or not at all (botocore's default).
constexpr std::chrono::seconds metadata_timeout{1};
// The container endpoint gets two seconds per try (botocore's default).
constexpr std::chrono::seconds container_timeout{2};

https_client_options options_with(std::shared_ptr<tls_trust> trust, proxy_settings const& proxies,
                                  std::chrono::milliseconds timeout) {
    https_client_options options;
    options.trust = std::move(trust);
    options.proxies = proxies;
    if (timeout.count() > 0) {
        options.connect_timeout = timeout;
        options.request_timeout = timeout;
    }
    options.max_response_bytes = 1024 * 1024;
    options.untrusted_certificate_hint = aws_untrusted_certificate_hint;
    return options;
}

}  // namespace

result<aws_settings> read_aws_settings(environment const& env, service_config const& config) {
    auto profiles = load_shared_profiles(env);
    if (!profiles) return profiles.error();
    auto plan = plan_credentials(env, *profiles);
    if (!plan) return plan.error();
    auto metadata = instance_metadata_settings(env);
    if (!metadata) return metadata.error();

    aws_settings settings{std::move(*plan), profiles->region(), std::move(*metadata)};
    if (settings.profile_region && !is_region_name(*settings.profile_region)) {
        return make_failure(failure_kind::config,
                            "region = \"" + *settings.profile_region + "\" in profile \"" + profiles->selected +
                                "\" (" + profiles->where() +
                                ") is invalid; expected an AWS region name in lower case, such as us-east-1");
    }
    if (config.region.empty() && !settings.profile_region && !settings.metadata) {
        return make_failure(failure_kind::config,
                            "AWS_REGION is not set; set AWS_REGION (or AWS_DEFAULT_REGION) to the region of the "
                            "registries, e.g. AWS_REGION=us-east-1, or `region` in profile \"" +
                                profiles->selected + "\" (the instance's region is not asked: "
                                "AWS_EC2_METADATA_DISABLED is true)");
    }
    return settings;
}

credential_clients::credential_clients(boost::asio::any_io_executor executor, std::shared_ptr<tls_trust> const& trust,
                                       proxy_settings const& proxies)
    : sts_{executor, options_with(trust, proxies, {})},
      container_{executor, options_with(trust, proxies, container_timeout)},
      metadata_{executor, options_with(trust, proxies, metadata_timeout)} {}

credential_transports credential_clients::transports() { return {sts_, container_, metadata_}; }

void credential_clients::close_idle_connections() {
    sts_.close_idle_connections();
    container_.close_idle_connections();
    metadata_.close_idle_connections();
}

boost::asio::awaitable<result<aws_access>> set_up_aws(service_config const& config, aws_settings const& settings,
                                                      credential_transports transports) {
    aws_access access;
    access.region = config.region;
    if (access.region.empty() && settings.profile_region) {
        access.region = *settings.profile_region;
        spdlog::info("AWS region {} from the profile", access.region);
    }
    if (access.region.empty() && settings.metadata) {
        auto region = co_await instance_metadata_region(transports.instance_metadata, *settings.metadata);
        if (!region) {
            co_return make_failure(failure_kind::config,
                                   "no AWS region: AWS_REGION and AWS_DEFAULT_REGION are not set, the profile has "
                                   "no region, and asking the instance failed: " + describe(region.error()));
        }
        if (!is_region_name(*region)) {
            co_return make_failure(failure_kind::bad_response,
                                   "no AWS region: the instance metadata's placement/region is not a region name");
        }
        access.region = std::move(*region);
        spdlog::info("AWS region {} from the instance metadata", access.region);
    }

    access.credentials = make_credential_source(settings.plan, transports, access.region,
                                                sts_endpoint(access.region, config.sts_endpoint));
    auto first = co_await access.credentials->credentials();
    if (!first) {
        auto problem = first.error();
        if (settings.plan.last_resort) {
            // Nothing else was configured and no instance answered: there are no credentials anywhere.
            problem.kind = failure_kind::config;
            problem.retryable = false;
            problem.message = no_credentials_message(settings.plan.passed_over, problem.message);
            co_return problem;
        }
        problem.message = "getting AWS credentials from " + describe(settings.plan) + " failed: " + problem.message;
        if (!problem.retryable) co_return problem;
        // A provider that is configured but out of reach for a moment (STS, the container endpoint)
        // is asked again at every refresh; the health check reports the failures meanwhile.
        spdlog::warn("{}", describe(problem));
        co_return std::move(access);
    }
    spdlog::info("AWS credentials from {}{}", first->source,
                 first->expiration ? "; they expire at " + format_utc(*first->expiration) : "");
    co_return std::move(access);
}

}  // namespace rancher_ecr
