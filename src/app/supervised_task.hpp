#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace rancher_ecr {

// When a supervised task that threw is started again: after `first_delay`, doubling with each
// failure in a row up to `max_delay`. A run that lasted longer than `max_delay` before it threw
// starts the count again, so that a rare bug does not earn the longest wait.
struct restart_policy {
    std::chrono::milliseconds first_delay{1000};
    std::chrono::milliseconds max_delay{300000};
};

// The wait before the restart that follows the `failures`-th failure in a row (1 for the first).
std::chrono::milliseconds restart_delay(restart_policy const& policy, int failures);

// A top-level task of the service and what to do when it throws.
struct supervised_task {
    std::string name;                                   // in the log: "the refresh task of default"
    std::function<boost::asio::awaitable<void>()> run;  // a fresh run of the task
    // Called with the exception's message after it is logged, before the wait for the restart
    // (e.g. to turn the task's health failing). Optional.
    std::function<void(std::string const& error)> on_failure;
    // Asked after a failure and again before its restart; false leaves the task stopped (e.g. the
    // service is stopping). Optional.
    std::function<bool()> keep_running;
    restart_policy restart;
};

// Runs `task.run()` on `executor` as a top-level task, in place of co_spawn(..., detached), so that
// no exception it throws vanishes. A run that completes is done: the task is not started again. A
// run that throws is logged once, as an error naming the task, the exception's message and the
// wait before the restart; then `on_failure` is called with the message, and after restart_delay()
// the task runs again, unless keep_running() says no by then. Returns at once. An exception thrown
// by `on_failure` or `keep_running` themselves (a bug of the supervisor's user) is not contained:
// it leaves io_context::run(), so that the process stops with it rather than limp on.
void spawn_supervised(boost::asio::any_io_executor executor, supervised_task task);

}  // namespace rancher_ecr
