#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace rancher_ecr::testing {

// Polls `condition` every 20 ms until it holds (true) or `deadline` passes (its last answer): tests
// wait for what they expect instead of sleeping a fixed time.
inline bool eventually(std::function<bool()> const& condition,
                       std::chrono::milliseconds deadline = std::chrono::seconds{20}) {
    auto const until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return condition();
}

}  // namespace rancher_ecr::testing
