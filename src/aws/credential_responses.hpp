#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.hpp"
#include "error.hpp"

namespace rancher_ecr {

// The requests and answers of the credential providers (STS, container endpoint, instance
// metadata), as pure functions. Failures are bad_response values; messages never quote a secret.

// An ISO 8601 UTC time as AWS writes expirations: 2026-11-29T04:29:44Z, with an optional fraction
// (.905595) and Z, +00:00 or another offset (+HH:MM or +HHMM, below 24 hours). Years 1970 to 2200
// only. Nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

// application/x-www-form-urlencoded bodies of STS's query protocol (Version=2011-06-15).
// `external_id` is left out when empty.
std::string assume_role_body(std::string_view role_arn, std::string_view session_name, std::string_view external_id);
std::string web_identity_body(std::string_view role_arn, std::string_view session_name, std::string_view token);

// The credentials in a 200 answer of STS AssumeRole or AssumeRoleWithWebIdentity: the first
// <Credentials> element's AccessKeyId, SecretAccessKey, SessionToken and Expiration.
result<aws_credentials> parse_sts_credentials(std::string_view body);

// The credentials in the JSON answer of a container endpoint or of instance metadata:
// AccessKeyId, SecretAccessKey, Token (may be absent) and Expiration (may be absent for the
// container endpoint). A "Code" other than "Success" (instance metadata) is a failure quoting it.
result<aws_credentials> parse_json_credentials(std::string_view body);

// A role session name for STS when none is configured: "rancher-ecr-credentials-<unix seconds>".
std::string generated_session_name(std::chrono::system_clock::time_point now);

}  // namespace rancher_ecr
