#pragma once

#include <cstddef>
#include <deque>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace rancher_ecr {

// At most `limit` holders at a time, the others waiting their turn, first come first served (a
// semaphore for coroutines on one io_context thread). Each take() is matched by one give_back(),
// which hands the turn straight to the next in line.
class fifo_turns {
public:
    fifo_turns(boost::asio::any_io_executor executor, std::size_t limit);

    // Completes once the turn is the caller's.
    boost::asio::awaitable<void> take();
    void give_back();

    // Turns held now: at most the limit.
    std::size_t held() const { return held_; }

private:
    boost::asio::any_io_executor executor_;
    std::size_t limit_;
    std::size_t held_ = 0;
    // Each waiter's timer never fires on its own: give_back() cancels it.
    std::deque<std::shared_ptr<boost::asio::steady_timer>> waiting_;
};

}  // namespace rancher_ecr
