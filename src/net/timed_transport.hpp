#pragma once

#include <chrono>
#include <functional>

#include "net/http_transport.hpp"

namespace rancher_ecr {

// Passes requests to another transport and reports how long each exchange took, whatever
// its outcome (for the request-duration metrics of ECR and Rancher).
class timed_transport final : public http_transport {
public:
    using observer = std::function<void(std::chrono::steady_clock::duration)>;

    timed_transport(http_transport& inner, observer observe) : inner_{inner}, observe_{std::move(observe)} {}

    boost::asio::awaitable<result<http_response>> send(url const& endpoint, http_request request) override;

private:
    http_transport& inner_;
    observer observe_;
};

}  // namespace rancher_ecr
