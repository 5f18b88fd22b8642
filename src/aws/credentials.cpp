#include "aws/credentials.hpp"

#include <utility>

namespace rancher_ecr {

// The values are secrets: messages name the variables, never their contents.
result<std::optional<aws_credentials>> credentials_from_environment(environment const& env) {
    auto access_key_id = read_variable(env, "AWS_ACCESS_KEY_ID");
    auto secret_access_key = read_variable(env, "AWS_SECRET_ACCESS_KEY");
    if (!access_key_id && !secret_access_key) return std::optional<aws_credentials>{};
    if (!secret_access_key) {
        return make_failure(failure_kind::config,
            "AWS_SECRET_ACCESS_KEY is not set but AWS_ACCESS_KEY_ID is; set both or neither");
    }
    if (!access_key_id) {
        return make_failure(failure_kind::config,
            "AWS_ACCESS_KEY_ID is not set but AWS_SECRET_ACCESS_KEY is; set both or neither");
    }

    aws_credentials credentials;
    credentials.access_key_id = std::move(*access_key_id);
    credentials.secret_access_key = std::move(*secret_access_key);
    // botocore's order: the older AWS_SECURITY_TOKEN wins when both are set.
    auto session_token = read_variable(env, "AWS_SECURITY_TOKEN");
    if (!session_token) session_token = read_variable(env, "AWS_SESSION_TOKEN");
    if (session_token) credentials.session_token = std::move(*session_token);
    credentials.source = "environment";
    return std::optional<aws_credentials>{std::move(credentials)};
}

}  // namespace rancher_ecr
