#include "app/supervised_task.hpp"

#include "error.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace rancher_ecr {

namespace asio = boost::asio;

namespace {

std::string delay_text(std::chrono::milliseconds delay) {
    if (delay < std::chrono::seconds{1}) return std::to_string(delay.count()) + " ms";
    return std::to_string(delay.count() / 1000) + "." + std::to_string(delay.count() % 1000 / 100) + " s";
}

// Runs the task until a run completes or a restart is refused. What a run throws is caught here, so
// that this coroutine throws only what on_failure or keep_running throw.
asio::awaitable<void> supervise(supervised_task task) {
    asio::steady_timer pause{co_await asio::this_coro::executor};
    int failures = 0;
    for (;;) {
        auto const started = std::chrono::steady_clock::now();
        std::exception_ptr error;
        try {
            co_await task.run();
        } catch (...) {
            error = std::current_exception();
        }
        if (!error) co_return;
        // A run that went on for long before it threw starts the backoff again.
        if (std::chrono::steady_clock::now() - started > task.restart.max_delay) failures = 0;
        auto const delay = restart_delay(task.restart, ++failures);
        auto const message = exception_text(error);
        bool const restart = !task.keep_running || task.keep_running();
        if (restart)
            spdlog::error("{} failed: {}; it starts again in {}", task.name, message, delay_text(delay));
        else
            spdlog::error("{} failed: {}", task.name, message);
        if (task.on_failure) task.on_failure(message);
        if (!restart) co_return;
        pause.expires_after(delay);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        if (task.keep_running && !task.keep_running()) co_return;
    }
}

}  // namespace

std::chrono::milliseconds restart_delay(restart_policy const& policy, int failures) {
    auto delay = policy.first_delay;
    for (int i = 1; i < failures && delay < policy.max_delay; ++i) delay *= 2;
    return std::min(delay, policy.max_delay);
}

void spawn_supervised(asio::any_io_executor executor, supervised_task task) {
    asio::co_spawn(executor, supervise(std::move(task)), [](std::exception_ptr error) {
        if (error) std::rethrow_exception(error);  // the supervisor's user's bug: leaves io_context::run()
    });
}

}  // namespace rancher_ecr
