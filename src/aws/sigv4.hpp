#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "aws/credentials.hpp"
#include "net/http_message.hpp"

namespace rancher_ecr {

// The steps of one AWS Signature Version 4 header signature, kept apart so that tests can
// compare each with the published test suite and with botocore.
struct sigv4_signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;      // lowercase hex
    std::string authorization;  // the value of the Authorization header
};

// Computes the signature of `request` as it stands, without changing it: the time is its
// X-Amz-Date header, the payload hash its X-Amz-Content-Sha256 header if set (else the body's
// SHA-256), and a session token is signed only if the request carries it; sign_request sets
// them. Throws std::invalid_argument if Host or X-Amz-Date is missing.
sigv4_signature compute_sigv4(http_request const& request, aws_credentials const& credentials,
                              std::string_view region, std::string_view service);

// Signs `request` in place with AWS Signature Version 4: sets X-Amz-Date from `now`,
// X-Amz-Security-Token when the credentials carry a session token, and Authorization.
// The request must already carry its Host header (with a non-default port). Signs every
// header except user-agent, hop-by-hop ones, expect and x-amzn-trace-id. Pure: no I/O, no clock.
void sign_request(http_request& request, aws_credentials const& credentials,
                  std::string_view region, std::string_view service,
                  std::chrono::system_clock::time_point now);

}  // namespace rancher_ecr
