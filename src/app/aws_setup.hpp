#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "app/config.hpp"
#include "aws/credential_chain.hpp"
#include "aws/credential_providers.hpp"
#include "aws/credential_source.hpp"
#include "environment.hpp"
#include "error.hpp"
#include "net/https_client.hpp"

namespace rancher_ecr {

// What is known about the AWS side before anything runs: where credentials come from, and the
// region's fallbacks.
struct aws_settings {
    credential_plan plan;
    std::optional<std::string> profile_region;    // the selected profile's `region`
    std::optional<instance_metadata> metadata;    // nullopt when AWS_EC2_METADATA_DISABLED=true
};

// Reads the shared files and decides the credential plan (plan_credentials). A config failure for
// a misconfigured provider, for no provider at all, for a profile region of the wrong form, or
// when no region can come from anywhere (none in the environment or profile, instance metadata
// disabled). Messages never contain a secret.
result<aws_settings> read_aws_settings(environment const& env, service_config const& config);

// What a TLS failure of an AWS client tells the operator when no trusted CA signed the peer's certificate.
inline constexpr char const* aws_untrusted_certificate_hint =
    "if a CA of your own signs it (a TLS-inspecting proxy, a private endpoint), give that CA's PEM file in "
    "AWS_CA_BUNDLE";

// The HTTPS clients of the credential providers (STS, container endpoint, instance metadata),
// with their deadlines, trusting `trust`'s CAs, through `proxies` (which never take the instance's
// own link). Must outlive the sources built on them.
class credential_clients {
public:
    credential_clients(boost::asio::any_io_executor executor, std::shared_ptr<tls_trust> const& trust,
                       proxy_settings const& proxies);
    credential_transports transports();
    void close_idle_connections();

private:
    https_client sts_;
    https_client container_;
    https_client metadata_;
};

// The region and the credentials, ready for the first refresh.
struct aws_access {
    std::string region;
    std::unique_ptr<credential_source> credentials;  // cached; ask it before every ECR call
};

// Resolves the region (config, else profile, else instance metadata), builds the credential
// sources and fetches the first credentials, logging which provider supplied them (never a
// secret). A retryable failure of a configured provider (STS or the container endpoint out of
// reach) is logged and left to the refresh tasks, which ask again. Completes with a failure when
// no region can be had, when the provider refuses for good (e.g. AccessDenied), or when the
// instance metadata service, the last resort, fails too: then the message lists every provider
// passed over and why. Never throws.
boost::asio::awaitable<result<aws_access>> set_up_aws(service_config const& config, aws_settings const& settings,
                                                      credential_transports transports);

}  // namespace rancher_ecr
