#include "refresh/token_cache.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "net/coroutine_warning.hpp"
#include "obs/logging.hpp"
#include "refresh/refresh_task.hpp"
#include "refresh/token_reuse.hpp"

namespace rancher_ecr {

namespace asio = boost::asio;

namespace {

constexpr std::size_t max_ids_per_call = 10;  // GetAuthorizationToken's registryIds

// The account whose registry `host` is: 123456789012.dkr.ecr... -> 123456789012.
std::string account_of(std::string_view host) { return std::string{host.substr(0, host.find('.'))}; }

}  // namespace

// One GetAuthorizationToken under way: the accounts it carries, and a timer that never fires on
// its own, cancelled when the call ends, which the targets waiting for it wait on.
struct token_cache::round {
    explicit round(asio::any_io_executor executor) : done{executor, asio::steady_timer::time_point::max()} {}
    std::set<std::string, std::less<>> accounts;
    asio::steady_timer done;
    std::optional<failure> problem;
};

token_cache::token_cache(asio::any_io_executor executor, credential_source& credentials, http_transport& transport,
                         std::string region, url endpoint, schedule_policy policy, clock now)
    : executor_{std::move(executor)},
      credentials_{credentials},
      ecr_{transport, std::move(region), std::move(endpoint)},
      policy_{policy},
      now_{std::move(now)} {}

token_cache::~token_cache() = default;

bool token_cache::usable(std::string const& account, std::chrono::system_clock::time_point now,
                         std::optional<std::chrono::system_clock::time_point> newer_than) const {
    auto it = tokens_.find(account);
    if (it == tokens_.end()) return false;
    if (newer_than && it->second.received_at <= *newer_than) return false;
    std::optional<kept_tokens> kept{kept_tokens{{it->second.token}, it->second.received_at}};
    return next_token_source(kept, now, policy_) == token_source::kept;
}

asio::awaitable<result<shared_tokens>> token_cache::tokens(
    std::vector<std::string> const& registry_ids, std::optional<std::chrono::system_clock::time_point> newer_than) {
    std::vector<std::string> wanted = registry_ids.empty() ? std::vector<std::string>{""} : registry_ids;
    auto const asked = now_();
    for (auto const& account : wanted) last_asked_.insert_or_assign(account, asked);
    // A call under way that carries them is waited for; else one is made, carrying every account
    // of this source that is due.
    std::shared_ptr<round> covering;  // the call that carried every account due, once it ended
    for (int pass = 0; pass < 8; ++pass) {
        auto const now = now_();
        std::vector<std::string> due;
        for (auto const& account : wanted)
            if (!usable(account, now, newer_than)) due.push_back(account);
        if (due.empty()) {
            shared_tokens handed;
            handed.received_at = now;
            handed.newest = {};
            for (auto const& account : wanted) {
                auto const& cached = tokens_.at(account);
                handed.tokens.push_back(cached.token);
                handed.received_at = std::min(handed.received_at, cached.received_at);
                handed.newest = std::max(handed.newest, cached.received_at);
            }
            co_return handed;
        }
        if (covering) {
            if (covering->problem) co_return *covering->problem;
            co_return make_failure(failure_kind::bad_response,
                                   "ECR's GetAuthorizationToken answer held no token for registry " +
                                       (due.front().empty() ? std::string{"of the caller's account"} : due.front()));
        }
        if (auto current = under_way_) {
            bool const covers = std::ranges::all_of(due, [&](auto const& a) { return current->accounts.contains(a); });
            co_await current->done.async_wait(asio::as_tuple(asio::use_awaitable));
            if (covers) covering = current;
            continue;
        }
        auto current = std::make_shared<round>(executor_);
        // With them, every account still asked for whose token is as old as those being replaced,
        // or past half its life.
        for (auto known = last_asked_.begin(); known != last_asked_.end();) {
            if (now - known->second > policy_.assumed_lifetime) {
                spdlog::debug("ECR: no target has asked for the token of {} since {}: forgotten",
                              known->first.empty() ? std::string{"the caller's account"} : known->first,
                              format_utc(known->second));
                tokens_.erase(known->first);
                known = last_asked_.erase(known);
                continue;
            }
            if (!usable(known->first, now, newer_than)) current->accounts.insert(known->first);
            ++known;
        }
        under_way_ = current;
        co_await fetch(current, {current->accounts.begin(), current->accounts.end()});
        covering = current;
    }
    co_return make_failure(failure_kind::transport, "ECR tokens were not had after 8 rounds of calls");
}

asio::awaitable<void> token_cache::fetch(std::shared_ptr<round> current, std::vector<std::string> accounts) {
    auto finish = [this, &current](std::optional<failure> problem) {
        current->problem = std::move(problem);
        current->done.cancel();
        if (under_way_ == current) under_way_.reset();
    };
    auto credentials = co_await credentials_.credentials();
    if (!credentials) {
        // Cached: the provider is asked only when the credentials near their expiration.
        spdlog::error("getting AWS credentials failed: {}", describe(credentials.error()));
        finish(credentials.error());
        co_return;
    }
    // The caller's own registry has a call of its own: it cannot be named among registryIds.
    std::vector<std::vector<std::string>> calls;
    std::vector<std::string> named;
    for (auto const& account : accounts) {
        if (account.empty()) calls.push_back({});
        else named.push_back(account);
    }
    for (std::size_t i = 0; i < named.size(); i += max_ids_per_call)
        calls.emplace_back(named.begin() + static_cast<std::ptrdiff_t>(i),
                           named.begin() + static_cast<std::ptrdiff_t>(std::min(named.size(), i + max_ids_per_call)));
    std::optional<failure> problem;
    for (auto const& ids : calls) {
        auto const started = now_();
        ++calls_;
        auto answer = co_await fetch_ecr_tokens(ecr_, *credentials, ids);  // logs a failure; masks the secrets
        if (!answer) {
            problem = answer.error();
            continue;
        }
        for (auto& token : *answer) {
            auto account = ids.empty() ? std::string{} : account_of(token.registry_host);
            tokens_.insert_or_assign(std::move(account), entry{std::move(token), started});
        }
    }
    finish(std::move(problem));
}

}  // namespace rancher_ecr
