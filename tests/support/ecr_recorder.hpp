#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "net/url.hpp"
#include "support/loopback_server.hpp"

namespace rancher_ecr::testing {

// A forwarding proxy on loopback in front of moto as ECR: passes every request on unchanged (its
// Host header included, so that the SigV4 signature still holds) and records each call.
class ecr_recorder {
public:
    struct call {
        std::string access_key_id;  // of the signature's Credential=
        std::string target;         // X-Amz-Target: "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
        int status = 0;             // of moto's answer; 0 when there was none
    };

    // `target`: moto's endpoint (http://127.0.0.1:PORT).
    explicit ecr_recorder(std::string const& target);
    ecr_recorder(ecr_recorder const&) = delete;
    ecr_recorder& operator=(ecr_recorder const&) = delete;

    std::string endpoint() const;  // http://127.0.0.1:PORT, for AWS_ENDPOINT_URL_ECR
    std::vector<call> calls() const;
    int token_calls() const;  // the GetAuthorizationToken calls

private:
    scripted_answer forward(http_request const& request);

    url target_;
    mutable std::mutex mutex_;
    std::vector<call> calls_;
    loopback_server server_;
};

}  // namespace rancher_ecr::testing
