#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace rancher_ecr::testing {

// Runs `task` on `context` until it completes and returns its value. Throws (failing the
// test) when it has not finished within `deadline`, so that no test can hang.
template <class T>
T run_with_deadline(boost::asio::io_context& context, boost::asio::awaitable<T> task,
                    std::chrono::milliseconds deadline = std::chrono::seconds{30}) {
    std::optional<T> value;
    std::exception_ptr error;
    bool done = false;
    boost::asio::co_spawn(context, std::move(task), [&](std::exception_ptr e, T v) {
        error = e;
        if (!e) value.emplace(std::move(v));
        done = true;
    });
    auto const until = std::chrono::steady_clock::now() + deadline;
    context.restart();
    while (!done && context.run_one_until(until) > 0) {
    }
    if (!done) throw std::runtime_error("the coroutine did not finish within its deadline");
    if (error) std::rethrow_exception(error);
    return std::move(*value);
}

}  // namespace rancher_ecr::testing
