// The per-origin request limit (RANCHER_MAX_CONCURRENCY): a transport that answers after a short
// wait on the io_context counts the requests under way to each origin, so that requests sent at
// once really overlap.
#include "net/origin_limit.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "net/coroutine_warning.hpp"

namespace rancher_ecr {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Answers every request after 2 ms; records the order requests reached it and the most under way
// to each origin at once. A request whose target is "/throw" throws instead of answering.
class slow_rancher final : public http_transport {
public:
    explicit slow_rancher(asio::io_context& context) : context_{context} {}

    asio::awaitable<result<http_response>> send(url const& endpoint, http_request request) override {
        auto const origin = endpoint.origin();
        started.push_back(request.target);
        auto& now = under_way[origin];
        ++now;
        peak[origin] = std::max(peak[origin], now);
        asio::steady_timer delay{context_, 2ms};
        co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
        --under_way[origin];
        if (request.target == "/throw") throw std::runtime_error{"the connection broke"};
        co_return http_response{200, {}, request.target};
    }

    std::vector<std::string> started;
    std::map<std::string, int> under_way, peak;

private:
    asio::io_context& context_;
};

class origin_limit_test : public ::testing::Test {
protected:
    // Sends every (origin, target) at once through a limit of `limit`; each answer's body, or
    // "thrown" / the failure's message, in the order sent.
    std::vector<std::string> send_together(std::size_t limit, std::vector<std::pair<std::string, std::string>> sends) {
        origin_limit limited{context_.get_executor(), rancher_, limit};
        std::vector<std::string> answers(sends.size());
        std::size_t done = 0;
        for (std::size_t i = 0; i < sends.size(); ++i)
            asio::co_spawn(
                context_,
                [&, i]() -> asio::awaitable<void> {
                    http_request request;
                    request.target = sends[i].second;
                    try {
                        auto answer = co_await limited.send(*parse_url(sends[i].first), std::move(request));
                        answers[i] = answer ? answer->body : answer.error().message;
                    } catch (std::exception const&) {
                        answers[i] = "thrown";
                    }
                    ++done;
                },
                asio::detached);
        auto const until = std::chrono::steady_clock::now() + 10s;
        while (done < sends.size() && context_.run_one_until(until) > 0) {
        }
        EXPECT_EQ(done, sends.size()) << "not every request got an answer";
        peak_ = limited.peak();
        return answers;
    }

    asio::io_context context_;
    slow_rancher rancher_{context_};
    std::size_t peak_ = 0;
};

TEST_F(origin_limit_test, at_most_the_limit_is_under_way_to_one_origin_and_every_request_is_answered) {
    std::vector<std::pair<std::string, std::string>> sends;
    for (int i = 0; i < 50; ++i) sends.emplace_back("http://rancher:8080/", "/v2-beta/projects/1a" + std::to_string(i));
    auto answers = send_together(8, sends);
    for (std::size_t i = 0; i < sends.size(); ++i) EXPECT_EQ(answers[i], sends[i].second);
    EXPECT_EQ(rancher_.peak["http://rancher:8080"], 8);
    EXPECT_EQ(peak_, 8u);
}

TEST_F(origin_limit_test, those_waiting_go_first_come_first_served) {
    std::vector<std::pair<std::string, std::string>> sends;
    std::vector<std::string> targets;
    for (int i = 0; i < 20; ++i) {
        sends.emplace_back("http://rancher:8080/", "/" + std::to_string(i));
        targets.push_back("/" + std::to_string(i));
    }
    send_together(3, sends);
    EXPECT_EQ(rancher_.started, targets);
}

TEST_F(origin_limit_test, origins_are_limited_apart_so_a_busy_one_never_holds_back_another) {
    std::vector<std::pair<std::string, std::string>> sends;
    for (int i = 0; i < 10; ++i) sends.emplace_back("http://rancher-one:8080/", "/one-" + std::to_string(i));
    sends.emplace_back("https://rancher-two/", "/two");
    send_together(2, sends);
    EXPECT_EQ(rancher_.peak["http://rancher-one:8080"], 2);
    // The second origin's request reached it at once, not after the first origin's queue.
    auto const two = std::ranges::find(rancher_.started, "/two") - rancher_.started.begin();
    EXPECT_LE(two, 2) << "the request to the other origin waited behind the busy one";
}

TEST_F(origin_limit_test, a_request_that_throws_hands_its_place_on) {
    std::vector<std::pair<std::string, std::string>> sends{{"http://rancher:8080/", "/throw"},
                                                           {"http://rancher:8080/", "/after"},
                                                           {"http://rancher:8080/", "/last"}};
    auto answers = send_together(1, sends);
    EXPECT_EQ(answers, (std::vector<std::string>{"thrown", "/after", "/last"}));
    EXPECT_EQ(rancher_.peak["http://rancher:8080"], 1);
}

}  // namespace
}  // namespace rancher_ecr
