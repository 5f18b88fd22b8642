#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "aws/credential_source.hpp"
#include "aws/ecr_client.hpp"
#include "aws/ecr_token.hpp"
#include "error.hpp"
#include "refresh/refresh_schedule.hpp"

namespace rancher_ecr {

// Tokens handed to a target: each registry's, and when the oldest of them came from ECR (their
// lifetime counts from then).
struct shared_tokens {
    std::vector<ecr_authorization> tokens;  // their passwords are secrets
    std::chrono::system_clock::time_point received_at;  // of the oldest
    std::chrono::system_clock::time_point newest;       // when the newest of them came
};

// The ECR tokens of one token source (an AWS identity, a region, an ECR endpoint), by account,
// shared by every target that needs them. A token is handed out again while more than half of its
// life is left (next_token_source); when a target needs one that is not, one GetAuthorizationToken
// fetches it together with every other account of the source that is due (at most 10 per call, as
// ECR accepts), and targets asking meanwhile wait for that call instead of making their own. A
// thousand targets that share one registry make one call, not a thousand. An account no target
// has asked for in a token's lifetime (a reload removed its targets) is forgotten with its token.
class token_cache {
public:
    using clock = std::function<std::chrono::system_clock::time_point()>;

    // `credentials` and `transport` must outlive the cache.
    token_cache(boost::asio::any_io_executor executor, credential_source& credentials, http_transport& transport,
                std::string region, url endpoint, schedule_policy policy,
                clock now = [] { return std::chrono::system_clock::now(); });
    ~token_cache();

    // The tokens of `registry_ids` (none: the caller's own registry), from the cache or from ECR,
    // each received after `newer_than` when given (a target's next refresh wants tokens newer than
    // those it wrote last; the targets refreshing about then share them). Fails when the
    // credentials or ECR fail (the failure of the call that included them).
    boost::asio::awaitable<result<shared_tokens>> tokens(
        std::vector<std::string> const& registry_ids,
        std::optional<std::chrono::system_clock::time_point> newer_than = std::nullopt);

    // GetAuthorizationToken calls made, for the logs and tests.
    std::uint64_t calls() const { return calls_; }
    ecr_client const& ecr() const { return ecr_; }

private:
    struct entry {
        ecr_authorization token;
        std::chrono::system_clock::time_point received_at;
    };
    struct round;

    // Whether the cached token of `account` may be handed out: more than half its life left, and
    // received after `newer_than`.
    bool usable(std::string const& account, std::chrono::system_clock::time_point now,
                std::optional<std::chrono::system_clock::time_point> newer_than) const;
    boost::asio::awaitable<void> fetch(std::shared_ptr<round> current, std::vector<std::string> accounts);

    boost::asio::any_io_executor executor_;
    credential_source& credentials_;
    ecr_client ecr_;
    schedule_policy policy_;
    clock now_;
    std::map<std::string, entry, std::less<>> tokens_;  // by account id; "" for the caller's own
    // Every account asked for, and when it was last: fetched together while asked within a
    // token's lifetime.
    std::map<std::string, std::chrono::system_clock::time_point, std::less<>> last_asked_;
    std::shared_ptr<round> under_way_;
    std::uint64_t calls_ = 0;
};

}  // namespace rancher_ecr
