#include "net/fifo_turns.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/coroutine_warning.hpp"

namespace rancher_ecr {

namespace asio = boost::asio;

fifo_turns::fifo_turns(asio::any_io_executor executor, std::size_t limit)
    : executor_{std::move(executor)}, limit_{std::max<std::size_t>(limit, 1)} {}

asio::awaitable<void> fifo_turns::take() {
    if (held_ < limit_) {
        ++held_;
        co_return;
    }
    auto turn = std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
    waiting_.push_back(turn);
    co_await turn->async_wait(asio::as_tuple(asio::use_awaitable));
    // Handed over by give_back(): held_ already counts this holder.
}

void fifo_turns::give_back() {
    if (waiting_.empty()) {
        --held_;
        return;
    }
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    next->cancel();
}

}  // namespace rancher_ecr
