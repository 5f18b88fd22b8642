#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/steady_timer.hpp>

#include "aws/credential_source.hpp"

namespace rancher_ecr {

// Caches the credentials of another source and refreshes them ahead of their expiration
// (assess_credentials): fresh ones are handed out without asking the source; due ones are
// refreshed, and if that fails while they are still usable they are handed out (a warning is
// logged) and the next call tries again. Callers arriving while a refresh is under way wait for
// that one instead of starting their own. Long-term keys are fetched once.
class credential_cache final : public credential_source {
public:
    using clock = std::function<std::chrono::system_clock::time_point()>;

    explicit credential_cache(std::unique_ptr<credential_source> inner,
                              clock now = [] { return std::chrono::system_clock::now(); });

    // The cached credentials, or the refreshed ones; a failure when the refresh failed and no
    // usable credentials are cached, or when the source handed out credentials already expired.
    boost::asio::awaitable<result<aws_credentials>> credentials() override;

private:
    // The answer for callers of a refresh that just ended: the cache if usable, else `problem`.
    result<aws_credentials> usable_or(failure const& problem) const;

    std::unique_ptr<credential_source> inner_;
    clock now_;
    std::optional<aws_credentials> cached_;
    std::optional<failure> last_failure_;
    // Set while a refresh is under way; cancelled when it ends, which wakes the callers waiting on it.
    std::shared_ptr<boost::asio::steady_timer> refresh_done_;
};

}  // namespace rancher_ecr
