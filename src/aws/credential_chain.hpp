#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aws/credentials.hpp"
#include "aws/shared_config.hpp"
#include "environment.hpp"
#include "error.hpp"
#include "net/url.hpp"

namespace rancher_ecr {

// Where the credentials come from, decided once from the environment and the shared files
// (plan_credentials) and then fetched, cached and refreshed by credential sources.

// Keys that never change: AWS_ACCESS_KEY_ID and friends, or a profile's aws_access_key_id.
struct fixed_keys {
    aws_credentials credentials;  // its `source` names where they were read
};

// STS AssumeRoleWithWebIdentity (unsigned) with the token in `token_file`, read at every fetch.
struct web_identity {
    std::string token_file;
    std::string role_arn;
    std::string session_name;  // empty: one is generated at each fetch
};

// An ECS / EKS Pod Identity credentials endpoint.
struct container_endpoint {
    url endpoint;
    std::string authorization_token_file;  // read at every fetch; wins over authorization_token
    std::string authorization_token;       // a secret: never log it
};

// The EC2 instance metadata service (IMDSv2, IMDSv1 as fallback when allowed).
struct instance_metadata {
    url endpoint;  // http://169.254.169.254/ unless AWS_EC2_METADATA_SERVICE_ENDPOINT(_MODE) says otherwise
    bool v1_fallback = true;  // false with AWS_EC2_METADATA_V1_DISABLED=true
};

// STS AssumeRole, signed with the credentials of the step before it.
struct role_to_assume {
    std::string role_arn;
    std::string session_name;  // empty: one is generated at each fetch
    std::string external_id;
    std::string origin;  // "AWS_ROLE_ARN" or "profile x", for messages
};

struct credential_plan {
    std::variant<fixed_keys, web_identity, container_endpoint, instance_metadata> base;
    std::vector<role_to_assume> roles;  // assumed in order, each with the credentials of the one before
    // The providers of the chain that came before the chosen one and why each did not apply, e.g.
    // "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"; quoted when the chosen
    // one (instance metadata, the last resort) fails too.
    std::vector<std::string> passed_over;
    // True when the base is the instance metadata service reached as the last resort: its failure
    // then means "no credentials anywhere", and the message lists passed_over.
    bool last_resort = false;
};

// Decides where credentials come from, in this order (the first that applies wins):
//   1. environment keys: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SECURITY_TOKEN / AWS_SESSION_TOKEN);
//   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME);
//   3. the shared files' selected profile: static keys, role_arn with source_profile (recursively)
//      or credential_source, or role_arn with web_identity_token_file;
//   4. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI (allowed hosts only),
//      with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN;
//   5. the EC2 instance metadata service, unless AWS_EC2_METADATA_DISABLED=true.
// AWS_ROLE_ARN without AWS_WEB_IDENTITY_TOKEN_FILE adds an STS AssumeRole of that role on top of
// whichever of 1, 3, 4, 5 applies (the original tool's cross-account setting).
// A provider that applies but is misconfigured (one key without the other, a missing explicitly
// selected profile, a loop of source_profile, a container URI to a host not allowed, CR/LF in a
// token), or no provider at all, is a config failure; the latter lists why each one did not apply.
// Messages never contain a secret. Pure (the profiles are already read).
result<credential_plan> plan_credentials(environment const& env, shared_profiles const& profiles);

// The instance metadata settings, or nullopt when AWS_EC2_METADATA_DISABLED=true. Config failure
// for a malformed AWS_EC2_METADATA_SERVICE_ENDPOINT or _MODE.
result<std::optional<instance_metadata>> instance_metadata_settings(environment const& env);

// Whether a full container credentials URI may be used, as botocore decides: any https URL; http
// only to a loopback address (127.0.0.0/8, ::1), localhost, 169.254.170.2, 169.254.170.23 or fd00:ec2::23.
bool is_allowed_container_endpoint(url const& endpoint);

// The STS endpoint: `override_endpoint` (AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL) when given,
// else the regional https://sts.<region>.<partition suffix>/. The signature's region stays `region`.
url sts_endpoint(std::string_view region, std::optional<url> const& override_endpoint);

// The message when no provider yields credentials: "no AWS credentials found: " and why each of
// `passed_over` did not apply, then `last`, the failure of the last one tried.
std::string no_credentials_message(std::vector<std::string> const& passed_over, std::string_view last);

// What a plan's provider is, for the startup log and messages: "environment", "web identity (role
// arn:...)", "profile dev", "container credentials at http://169.254.170.2/v2/...", "instance metadata",
// with " then role <arn>" for each role assumed on top. Never contains a secret.
std::string describe(credential_plan const& plan);

}  // namespace rancher_ecr
