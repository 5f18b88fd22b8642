#include "aws/credential_cache.hpp"

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "aws/credential_refresh.hpp"
#include "obs/logging.hpp"

namespace rancher_ecr {

namespace asio = boost::asio;

namespace {

// Ends a refresh however the coroutine leaves (a bug's exception included), so that no caller
// waits forever.
class refresh_guard {
public:
    explicit refresh_guard(std::shared_ptr<asio::steady_timer>& slot) : slot_{slot} {}
    ~refresh_guard() {
        if (auto done = std::exchange(slot_, nullptr)) done->cancel();
    }
    refresh_guard(refresh_guard const&) = delete;
    refresh_guard& operator=(refresh_guard const&) = delete;

private:
    std::shared_ptr<asio::steady_timer>& slot_;
};

}  // namespace

credential_cache::credential_cache(std::unique_ptr<credential_source> inner, clock now)
    : inner_{std::move(inner)}, now_{std::move(now)} {}

result<aws_credentials> credential_cache::usable_or(failure const& problem) const {
    if (cached_ && assess_credentials(now_(), cached_->expiration) != credential_state::expired) return *cached_;
    return problem;
}

asio::awaitable<result<aws_credentials>> credential_cache::credentials() {
    if (cached_ && assess_credentials(now_(), cached_->expiration) == credential_state::fresh) co_return *cached_;

    if (refresh_done_) {
        auto done = refresh_done_;  // keeps the timer alive even if the refresh's frame goes first
        co_await done->async_wait(asio::as_tuple(asio::use_awaitable));
        co_return usable_or(last_failure_.value_or(
            make_failure(failure_kind::transport, "refreshing the AWS credentials was interrupted")));
    }

    refresh_done_ = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                         asio::steady_timer::time_point::max());
    std::optional<result<aws_credentials>> fetched;
    {
        refresh_guard guard{refresh_done_};
        fetched.emplace(co_await inner_->credentials());
    }
    auto answer = std::move(*fetched);

    auto const now = now_();
    if (answer && assess_credentials(now, answer->expiration) == credential_state::expired) {
        answer = make_failure(failure_kind::bad_response,
                              "the AWS credentials from " + answer->source + " expire at " +
                                  format_utc(*answer->expiration) + ", too soon to be used");
    }
    if (answer) {
        if (cached_) {
            spdlog::info("AWS credentials from {} refreshed{}", answer->source,
                         answer->expiration ? "; they expire at " + format_utc(*answer->expiration) : "");
        }
        cached_ = *answer;
        last_failure_.reset();
        co_return std::move(*answer);
    }

    last_failure_ = answer.error();
    auto usable = usable_or(*last_failure_);
    if (usable) {
        spdlog::warn("refreshing the AWS credentials failed: {}; the current ones from {} stay in use until {}",
                     describe(*last_failure_), cached_->source, format_utc(*cached_->expiration));
    }
    co_return usable;
}

}  // namespace rancher_ecr
