#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "environment.hpp"
#include "error.hpp"

namespace rancher_ecr {

// AWS credentials as SigV4 needs them. The secret and the session token are
// secrets: never log or format them.
struct aws_credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // empty for long-term keys
    std::optional<std::chrono::system_clock::time_point> expiration;  // temporary credentials only
    std::string source;  // the provider that supplied them, e.g. "environment"
};

// Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (AWS_SECURITY_TOKEN
// wins when both are set). Returns nullopt when neither key is set, and a config failure
// when only one of the two is.
result<std::optional<aws_credentials>> credentials_from_environment(environment const& env);

}  // namespace rancher_ecr
