#include "net/origin_limit.hpp"

#include <algorithm>
#include <exception>

#include "net/coroutine_warning.hpp"

namespace rancher_ecr {

namespace asio = boost::asio;

origin_limit::origin_limit(asio::any_io_executor executor, http_transport& inner, std::size_t limit)
    : executor_{std::move(executor)}, inner_{inner}, limit_{std::max<std::size_t>(limit, 1)} {}

origin_limit::~origin_limit() = default;

asio::awaitable<result<http_response>> origin_limit::send(url const& endpoint, http_request request) {
    auto origin = endpoint.origin();
    auto& slot = origins_[origin];
    if (!slot) slot = std::make_shared<fifo_turns>(executor_, limit_);
    auto turns = slot;  // kept alive while this request uses it
    co_await turns->take();
    peak_ = std::max(peak_, turns->held());
    std::exception_ptr error;
    result<http_response> answer = make_failure(failure_kind::transport, "no answer");
    try {
        answer = co_await inner_.send(endpoint, std::move(request));
    } catch (...) {
        error = std::current_exception();
    }
    turns->give_back();  // to the next in line
    if (error) std::rethrow_exception(error);
    co_return answer;
}

}  // namespace rancher_ecr
