// The token cache: one GetAuthorizationToken shared by every target that needs its tokens. ECR is
// a scripted transport that answers after a short wait on the io_context, so that targets asking
// at once really overlap.
#include "refresh/token_cache.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "net/coroutine_warning.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

class fixed_credentials final : public credential_source {
public:
    asio::awaitable<result<aws_credentials>> credentials() override {
        co_return aws_credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI", "", std::nullopt, "environment"};
    }
};

// ECR: one token per registryId asked ("<id>-token-<call number>"), answered after 5 ms; or a
// 400 AccessDenied while `refuse` is set.
class ecr_script final : public http_transport {
public:
    explicit ecr_script(asio::io_context& context) : context_{context} {}

    asio::awaitable<result<http_response>> send(url const&, http_request request) override {
        ++calls;
        auto const call = calls;
        asio::steady_timer delay{context_, 5ms};
        co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
        auto body = json::parse(request.body).as_object();
        std::vector<std::string> ids;
        if (auto const* asked = body.if_contains("registryIds"))
            for (auto const& id : asked->as_array()) ids.emplace_back(id.as_string());
        asked_ids.push_back(ids);
        if (refuse)
            co_return http_response{400, {{"Content-Type", "application/x-amz-json-1.1"}},
                                    R"({"__type":"AccessDeniedException","message":"not allowed"})"};
        if (ids.empty()) ids.push_back("999999999999");
        json::array data;
        for (auto const& id : ids) {
            std::string token = "AWS:" + id + "-token-" + std::to_string(call);
            data.push_back(json::object{{"authorizationToken", base64(token)},
                                        {"expiresAt", 1.7e9 + 43200},
                                        {"proxyEndpoint", "https://" + id + ".dkr.ecr.eu-west-1.amazonaws.com"}});
        }
        co_return http_response{200, {{"Content-Type", "application/x-amz-json-1.1"}},
                                json::serialize(json::object{{"authorizationData", data}})};
    }

    static std::string base64(std::string const& text) {
        static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string out;
        std::size_t i = 0;
        for (; i + 2 < text.size(); i += 3) {
            unsigned n = (unsigned char)text[i] << 16 | (unsigned char)text[i + 1] << 8 | (unsigned char)text[i + 2];
            for (int s : {18, 12, 6, 0}) out += digits[(n >> s) & 63];
        }
        if (i + 1 == text.size()) {
            unsigned n = (unsigned char)text[i] << 16;
            out += digits[(n >> 18) & 63];
            out += digits[(n >> 12) & 63];
            out += "==";
        } else if (i + 2 == text.size()) {
            unsigned n = (unsigned char)text[i] << 16 | (unsigned char)text[i + 1] << 8;
            for (int s : {18, 12, 6}) out += digits[(n >> s) & 63];
            out += '=';
        }
        return out;
    }

    int calls = 0;
    bool refuse = false;
    std::vector<std::vector<std::string>> asked_ids;

private:
    asio::io_context& context_;
};

class token_cache_test : public ::testing::Test {
protected:
    // `count` targets asking for `ids` at once; each one's result, in the order they were started.
    std::vector<result<shared_tokens>> ask_together(std::vector<std::vector<std::string>> const& asks,
                                                    std::optional<std::chrono::system_clock::time_point> newer_than = {}) {
        std::vector<result<shared_tokens>> results(asks.size(), make_failure(failure_kind::transport, "not done"));
        int done = 0;
        for (std::size_t i = 0; i < asks.size(); ++i)
            asio::co_spawn(context_,
                           [this, &results, &done, i, ids = asks[i], newer_than]() -> asio::awaitable<void> {
                               results[i] = co_await cache_.tokens(ids, newer_than);
                               ++done;
                           },
                           asio::detached);
        auto const until = std::chrono::steady_clock::now() + 10s;
        context_.restart();
        while (done < static_cast<int>(asks.size()) && context_.run_one_until(until) > 0) {
        }
        EXPECT_EQ(done, static_cast<int>(asks.size())) << "not every target got an answer";
        return results;
    }

    asio::io_context context_;
    fixed_credentials credentials_;
    ecr_script ecr_{context_};
    std::chrono::system_clock::time_point now_ = std::chrono::system_clock::now();  // the cache's clock
    token_cache cache_{context_.get_executor(), credentials_, ecr_, "eu-west-1",
                       *parse_url("https://api.ecr.eu-west-1.amazonaws.com/"), schedule_policy{},
                       [this] { return now_; }};
};

TEST_F(token_cache_test, a_thousand_targets_sharing_one_registry_make_one_call) {
    std::vector<std::vector<std::string>> asks(1000, {"111111111111"});
    auto results = ask_together(asks);
    EXPECT_EQ(ecr_.calls, 1);
    for (auto const& r : results) {
        ASSERT_TRUE(r.has_value()) << r.error().message;
        ASSERT_EQ(r->tokens.size(), 1u);
        EXPECT_EQ(r->tokens[0].password, "111111111111-token-1");
    }
    // Asked again later, the token still has most of its life: no call.
    auto again = ask_together({{"111111111111"}});
    EXPECT_EQ(ecr_.calls, 1);
    EXPECT_EQ(cache_.calls(), 1u);
}

TEST_F(token_cache_test, a_call_carries_every_account_of_the_source_that_is_due) {
    auto first = ask_together({{"111111111111"}, {"222222222222"}, {"333333333333"}});
    ASSERT_TRUE(first[2].has_value());
    auto const calls_before = ecr_.calls;  // the later accounts joined no call under way: more than one
    // The targets' next refreshes want newer tokens: the first asking brings all three along.
    auto newer_than = first[2]->newest;
    now_ += 1min;
    auto next = ask_together({{"111111111111"}}, newer_than);
    ASSERT_TRUE(next[0].has_value());
    EXPECT_EQ(ecr_.calls, calls_before + 1);
    EXPECT_EQ(ecr_.asked_ids.back(), (std::vector<std::string>{"111111111111", "222222222222", "333333333333"}));
    auto others = ask_together({{"222222222222"}, {"333333333333", "111111111111"}}, newer_than);
    EXPECT_EQ(ecr_.calls, calls_before + 1);  // served from that call
    ASSERT_TRUE(others[1].has_value());
    EXPECT_EQ(others[1]->tokens.size(), 2u);
    EXPECT_EQ(others[1]->tokens[0].registry_host, "333333333333.dkr.ecr.eu-west-1.amazonaws.com");  // in the asked order
}

TEST_F(token_cache_test, an_account_no_target_asks_for_any_more_is_forgotten_after_a_token_lifetime) {
    auto first = ask_together({{"111111111111"}, {"111111111111", "222222222222"}});
    ASSERT_TRUE(first[1].has_value()) << first[1].error().message;
    // Seven hours on, past half the tokens' life: the one target left still brings the other along.
    now_ += 7h;
    auto shared = ask_together({{"111111111111"}});
    ASSERT_TRUE(shared[0].has_value());
    EXPECT_EQ(ecr_.asked_ids.back(), (std::vector<std::string>{"111111111111", "222222222222"}));
    // Fourteen hours after the last ask for it (a reload removed its target), it is left out.
    now_ += 7h;
    auto alone = ask_together({{"111111111111"}});
    ASSERT_TRUE(alone[0].has_value());
    EXPECT_EQ(ecr_.asked_ids.back(), (std::vector<std::string>{"111111111111"}));
    // Asked for again, it is fetched afresh: its old token went with it.
    auto const calls_before = ecr_.calls;
    auto back = ask_together({{"222222222222"}});
    ASSERT_TRUE(back[0].has_value());
    EXPECT_EQ(ecr_.calls, calls_before + 1);
    EXPECT_EQ(back[0]->tokens[0].password, "222222222222-token-" + std::to_string(ecr_.calls));
}

TEST_F(token_cache_test, more_than_ten_accounts_go_in_calls_of_ten) {
    std::vector<std::string> ids;
    for (int i = 0; i < 12; ++i) ids.push_back(std::to_string(100000000000 + i));
    auto results = ask_together({ids});
    ASSERT_TRUE(results[0].has_value()) << results[0].error().message;
    EXPECT_EQ(results[0]->tokens.size(), 12u);
    ASSERT_EQ(ecr_.asked_ids.size(), 2u);
    EXPECT_EQ(ecr_.asked_ids[0].size(), 10u);
    EXPECT_EQ(ecr_.asked_ids[1].size(), 2u);
}

TEST_F(token_cache_test, a_failed_call_fails_every_target_waiting_for_it_and_the_next_ask_tries_again) {
    ecr_.refuse = true;
    auto results = ask_together({{"111111111111"}, {"111111111111"}, {"111111111111"}});
    EXPECT_EQ(ecr_.calls, 1);
    for (auto const& r : results) {
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, "AccessDeniedException");
    }
    ecr_.refuse = false;
    auto retried = ask_together({{"111111111111"}});
    ASSERT_TRUE(retried[0].has_value());
    EXPECT_EQ(ecr_.calls, 2);
}

TEST_F(token_cache_test, the_callers_own_registry_has_a_call_of_its_own) {
    auto results = ask_together({{}, {}});
    ASSERT_TRUE(results[0].has_value()) << results[0].error().message;
    EXPECT_EQ(results[0]->tokens[0].registry_host, "999999999999.dkr.ecr.eu-west-1.amazonaws.com");
    EXPECT_EQ(ecr_.calls, 1);
    EXPECT_TRUE(ecr_.asked_ids[0].empty());
}

}  // namespace
}  // namespace rancher_ecr
