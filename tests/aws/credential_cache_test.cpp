// The cache in front of a credential provider: a scripted source and a hand-moved clock, no sockets.
#include "aws/credential_cache.hpp"

#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using rancher_ecr::testing::run_with_deadline;
using time_point = std::chrono::system_clock::time_point;

time_point const start = time_point{std::chrono::hours{500000}};

aws_credentials key(std::string id, std::optional<time_point> expiration) {
    return aws_credentials{std::move(id), "secret", "token", expiration, "scripted"};
}

// Hands out its scripted answers in order, counting the calls; with `gate` set, each call waits
// until the gate is opened (cancelled).
class scripted_source final : public credential_source {
public:
    std::deque<result<aws_credentials>> answers;
    int calls = 0;
    std::shared_ptr<asio::steady_timer> gate;

    asio::awaitable<result<aws_credentials>> credentials() override {
        ++calls;
        if (gate) {
            auto waiting = gate;
            co_await waiting->async_wait(asio::as_tuple(asio::use_awaitable));
        }
        if (answers.empty()) co_return make_failure(failure_kind::transport, "script exhausted");
        auto answer = std::move(answers.front());
        answers.pop_front();
        co_return answer;
    }
};

class credential_cache_test : public ::testing::Test {
protected:
    credential_cache_test() {
        auto owned = std::make_unique<scripted_source>();
        source_ = owned.get();
        cache_ = std::make_unique<credential_cache>(std::move(owned), [this] { return now_; });
    }

    result<aws_credentials> ask() { return run_with_deadline(context_, cache_->credentials(), 5s); }

    asio::io_context context_;
    time_point now_ = start;
    scripted_source* source_ = nullptr;
    std::unique_ptr<credential_cache> cache_;
};

TEST_F(credential_cache_test, long_term_keys_are_fetched_once) {
    source_->answers.push_back(key("AKIA", std::nullopt));
    for (int i = 0; i < 3; ++i) {
        auto credentials = ask();
        ASSERT_TRUE(credentials) << credentials.error().message;
        EXPECT_EQ(credentials->access_key_id, "AKIA");
        now_ += std::chrono::hours{24 * 365};
    }
    EXPECT_EQ(source_->calls, 1);
}

TEST_F(credential_cache_test, temporary_ones_are_cached_until_the_refresh_window) {
    source_->answers.push_back(key("first", start + 1h));
    source_->answers.push_back(key("second", start + 2h));
    EXPECT_EQ(ask()->access_key_id, "first");
    now_ = start + 44min;  // 16 minutes before the expiration: still fresh
    EXPECT_EQ(ask()->access_key_id, "first");
    EXPECT_EQ(source_->calls, 1);
    now_ = start + 45min;  // 15 minutes before: refreshed
    EXPECT_EQ(ask()->access_key_id, "second");
    EXPECT_EQ(source_->calls, 2);
    EXPECT_EQ(ask()->access_key_id, "second");
    EXPECT_EQ(source_->calls, 2);
}

TEST_F(credential_cache_test, a_failed_refresh_keeps_the_valid_ones_and_is_retried_at_the_next_call) {
    source_->answers.push_back(key("first", start + 1h));
    source_->answers.push_back(make_failure(failure_kind::timeout, "STS timed out"));
    source_->answers.push_back(make_failure(failure_kind::timeout, "STS timed out again"));
    source_->answers.push_back(key("second", start + 2h));
    EXPECT_EQ(ask()->access_key_id, "first");
    now_ = start + 50min;
    EXPECT_EQ(ask()->access_key_id, "first");  // the refresh failed; the old ones are still good
    EXPECT_EQ(source_->calls, 2);
    now_ = start + 55min;
    EXPECT_EQ(ask()->access_key_id, "first");  // retried, failed again
    EXPECT_EQ(source_->calls, 3);
    now_ = start + 56min;
    EXPECT_EQ(ask()->access_key_id, "second");  // retried, refreshed
    EXPECT_EQ(source_->calls, 4);
}

TEST_F(credential_cache_test, expired_ones_are_never_handed_out) {
    source_->answers.push_back(key("first", start + 1h));
    source_->answers.push_back(make_failure(failure_kind::connect, "STS unreachable"));
    EXPECT_EQ(ask()->access_key_id, "first");
    now_ = start + 59min + 30s;  // within the last minute
    auto credentials = ask();
    ASSERT_FALSE(credentials);
    EXPECT_EQ(credentials.error().message, "STS unreachable");
    EXPECT_TRUE(credentials.error().retryable);
}

TEST_F(credential_cache_test, credentials_handed_out_already_expired_are_a_failure) {
    source_->answers.push_back(key("stale", start + 30s));
    auto credentials = ask();
    ASSERT_FALSE(credentials);
    EXPECT_EQ(credentials.error().kind, failure_kind::bad_response);
    EXPECT_NE(credentials.error().message.find("scripted"), std::string::npos) << credentials.error().message;
}

TEST_F(credential_cache_test, ones_inside_the_window_are_used_and_replaced_at_the_next_call) {
    // A provider may hand out credentials that already sit in the refresh window.
    source_->answers.push_back(key("short", start + 5min));
    source_->answers.push_back(key("long", start + 6h));
    EXPECT_EQ(ask()->access_key_id, "short");
    EXPECT_EQ(ask()->access_key_id, "long");
    EXPECT_EQ(ask()->access_key_id, "long");
    EXPECT_EQ(source_->calls, 2);
}

TEST_F(credential_cache_test, callers_during_a_refresh_share_it) {
    source_->answers.push_back(key("only", start + 1h));
    source_->gate = std::make_shared<asio::steady_timer>(context_, asio::steady_timer::time_point::max());
    std::vector<std::string> got;
    for (int i = 0; i < 3; ++i) {
        asio::co_spawn(context_, cache_->credentials(), [&](std::exception_ptr, result<aws_credentials> answer) {
            got.push_back(answer ? answer->access_key_id : "failure: " + answer.error().message);
        });
    }
    context_.poll();  // all three are waiting now
    EXPECT_EQ(source_->calls, 1);
    EXPECT_TRUE(got.empty());
    source_->gate->cancel();
    context_.run_for(5s);
    EXPECT_EQ(got, (std::vector<std::string>{"only", "only", "only"}));
    EXPECT_EQ(source_->calls, 1);
}

TEST_F(credential_cache_test, callers_during_a_failed_first_fetch_get_its_failure) {
    source_->answers.push_back(make_failure(failure_kind::service, "AccessDenied"));
    source_->gate = std::make_shared<asio::steady_timer>(context_, asio::steady_timer::time_point::max());
    std::vector<std::string> got;
    for (int i = 0; i < 2; ++i) {
        asio::co_spawn(context_, cache_->credentials(), [&](std::exception_ptr, result<aws_credentials> answer) {
            got.push_back(answer ? answer->access_key_id : answer.error().message);
        });
    }
    context_.poll();
    source_->gate->cancel();
    context_.run_for(5s);
    EXPECT_EQ(got, (std::vector<std::string>{"AccessDenied", "AccessDenied"}));
    EXPECT_EQ(source_->calls, 1);
}

}  // namespace
}  // namespace rancher_ecr
