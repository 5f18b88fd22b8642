#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"

namespace rancher_ecr {

// One registry credential from ECR GetAuthorizationToken.
struct ecr_authorization {
    std::string registry_host;  // host[:port] of proxyEndpoint, lower case, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com
    std::string username;       // "AWS"
    std::string password;       // a secret: never log or format it
    std::chrono::system_clock::time_point expires_at;
};

// The largest GetAuthorizationToken answer accepted (ten tokens of a few KiB each fit many times over).
inline constexpr std::size_t max_authorization_response_size = 1024 * 1024;

// The AWS JSON 1.1 body of GetAuthorizationToken: "{}" for the caller's own registry, or
// {"registryIds":[...]} for one token per listed registry. The ids are not validated here.
std::string authorization_request_body(std::vector<std::string> const& registry_ids);

// Parses a 200 answer of GetAuthorizationToken into every authorizationData entry, in order.
// authorizationToken is base64 of "user:password" (split at the first ':'); expiresAt is epoch
// seconds as a JSON number (integer, fraction or exponent form); proxyEndpoint is a URL or a bare host.
// Anything malformed (body, types at any level, base64, empty user or password, out-of-range time,
// no entries) is a bad_response failure naming the entry and field; messages never quote a token.
// Never throws for any input (short of running out of memory).
result<std::vector<ecr_authorization>> parse_authorization_response(std::string_view body);

// Whether an AWS error answer can pass on a later try: throttling (HTTP 429 or a throttling code),
// HTTP 5xx, and timeout codes can; refused credentials, signatures, permissions and bad requests
// need an operator. The one place where AWS errors are classified.
bool is_retryable_aws_error(int http_status, std::string_view code);

// Turns an AWS error answer into a failure of kind service: JSON 1.1 {"__type":"[prefix#]Code",
// "message"|"Message":...} or XML <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>
// (or a bare <Error>). `operation` names the call and host, e.g. "ECR GetAuthorizationToken at
// api.ecr.us-east-1.amazonaws.com", and starts the message. A body of neither form yields a failure
// with the status and a short, sanitised excerpt. Retryability comes from is_retryable_aws_error.
failure parse_aws_error(int http_status, std::string_view body, std::string_view operation);

}  // namespace rancher_ecr
