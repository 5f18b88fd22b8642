#include "net/timed_transport.hpp"

namespace rancher_ecr {

boost::asio::awaitable<result<http_response>> timed_transport::send(url const& endpoint, http_request request) {
    auto const start = std::chrono::steady_clock::now();
    auto response = co_await inner_.send(endpoint, std::move(request));
    observe_(std::chrono::steady_clock::now() - start);
    co_return response;
}

}  // namespace rancher_ecr
