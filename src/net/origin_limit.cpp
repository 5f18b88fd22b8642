#include "net/origin_limit.hpp"

#include <algorithm>
#include <exception>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/coroutine_warning.hpp"

namespace rancher_ecr {

namespace asio = boost::asio;

// The requests under way to one origin, and the turns of those waiting: each a timer that never
// fires on its own, cancelled when a place frees up.
struct origin_limit::origin_queue {
    std::size_t under_way = 0;
    std::deque<std::shared_ptr<asio::steady_timer>> waiting;
};

origin_limit::origin_limit(asio::any_io_executor executor, http_transport& inner, std::size_t limit)
    : executor_{std::move(executor)}, inner_{inner}, limit_{std::max<std::size_t>(limit, 1)} {}

origin_limit::~origin_limit() = default;

asio::awaitable<result<http_response>> origin_limit::send(url const& endpoint, http_request request) {
    auto origin = endpoint.origin();
    auto& slot = origins_[origin];
    if (!slot) slot = std::make_shared<origin_queue>();
    auto queue = slot;  // kept alive while this request uses it
    if (queue->under_way >= limit_) {
        auto turn = std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
        queue->waiting.push_back(turn);
        co_await turn->async_wait(asio::as_tuple(asio::use_awaitable));
        // The place was handed over by the request that ended: under_way already counts this one.
    } else {
        ++queue->under_way;
    }
    peak_ = std::max(peak_, queue->under_way);
    std::exception_ptr error;
    result<http_response> answer = make_failure(failure_kind::transport, "no answer");
    try {
        answer = co_await inner_.send(endpoint, std::move(request));
    } catch (...) {
        error = std::current_exception();
    }
    if (!queue->waiting.empty()) {
        // Hand the place to the next in line.
        auto next = std::move(queue->waiting.front());
        queue->waiting.pop_front();
        next->cancel();
    } else {
        --queue->under_way;
    }
    if (error) std::rethrow_exception(error);
    co_return answer;
}

}  // namespace rancher_ecr
