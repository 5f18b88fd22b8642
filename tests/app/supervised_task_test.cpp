#include "app/supervised_task.hpp"

#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "aws/ecr_client.hpp"
#include "obs/health.hpp"
#include "rancher/cattle_writer.hpp"
#include "rancher/rancher_client.hpp"
#include "refresh/refresh_task.hpp"

namespace rancher_ecr {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::size_t occurrences(std::string const& text, std::string const& part) {
    std::size_t count = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
    return count;
}

class supervised_task_test : public ::testing::Test {
protected:
    void SetUp() override {
        previous_ = spdlog::default_logger();
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    }
    void TearDown() override { spdlog::set_default_logger(previous_); }

    // Runs the context until nothing is left to do; bounded so that no test hangs.
    void run() {
        context_.restart();
        context_.run_for(10s);
    }
    supervised_task task(std::string name, std::function<asio::awaitable<void>()> body) {
        supervised_task t;
        t.name = std::move(name);
        t.run = std::move(body);
        t.on_failure = [this](std::string const& error) { failures_.push_back(error); };
        t.restart = {5ms, 20ms};
        return t;
    }

    asio::io_context context_;
    std::ostringstream log_;
    std::shared_ptr<spdlog::logger> previous_;
    std::vector<std::string> failures_;
};

TEST_F(supervised_task_test, a_task_that_throws_is_logged_once_reported_and_restarted) {
    int runs = 0;
    spawn_supervised(context_.get_executor(), task("the test task", [&]() -> asio::awaitable<void> {
                         if (++runs == 1) throw std::runtime_error("a bug in the task");
                         co_return;
                     }));
    run();
    EXPECT_EQ(runs, 2);  // restarted once, then completed
    ASSERT_EQ(failures_.size(), 1u);
    EXPECT_THAT(failures_[0], HasSubstr("a bug in the task"));
    EXPECT_EQ(occurrences(log_.str(), "a bug in the task"), 1u) << log_.str();
    EXPECT_THAT(log_.str(), HasSubstr("[error]")) << log_.str();
    EXPECT_THAT(log_.str(), HasSubstr("the test task failed: a bug in the task")) << log_.str();
}

TEST_F(supervised_task_test, a_task_that_throws_after_awaiting_is_restarted_too) {
    int runs = 0;
    spawn_supervised(context_.get_executor(), task("the test task", [&]() -> asio::awaitable<void> {
                         ++runs;
                         asio::steady_timer timer{co_await asio::this_coro::executor, 1ms};
                         co_await timer.async_wait(asio::use_awaitable);
                         if (runs < 3) throw std::logic_error("broken invariant");
                     }));
    run();
    EXPECT_EQ(runs, 3);
    EXPECT_EQ(failures_.size(), 2u);
    EXPECT_EQ(occurrences(log_.str(), "broken invariant"), 2u) << log_.str();
}

TEST_F(supervised_task_test, a_task_that_completes_is_not_restarted) {
    int runs = 0;
    spawn_supervised(context_.get_executor(), task("the test task", [&]() -> asio::awaitable<void> {
                         ++runs;
                         co_return;
                     }));
    run();
    EXPECT_EQ(runs, 1);
    EXPECT_TRUE(failures_.empty());
    EXPECT_EQ(log_.str(), "");
}

TEST_F(supervised_task_test, a_task_is_not_restarted_once_keep_running_says_no) {
    int runs = 0;
    auto t = task("the test task", [&]() -> asio::awaitable<void> {
        ++runs;
        throw std::runtime_error("a bug while stopping");
        co_return;
    });
    t.keep_running = [] { return false; };
    spawn_supervised(context_.get_executor(), std::move(t));
    run();
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(failures_.size(), 1u);  // still reported
    EXPECT_THAT(log_.str(), HasSubstr("a bug while stopping")) << log_.str();
}

TEST_F(supervised_task_test, an_exception_of_another_type_is_reported_as_unknown) {
    int runs = 0;
    spawn_supervised(context_.get_executor(), task("the test task", [&]() -> asio::awaitable<void> {
                         if (++runs == 1) throw 42;
                         co_return;
                     }));
    run();
    EXPECT_EQ(runs, 2);
    ASSERT_EQ(failures_.size(), 1u);
    EXPECT_THAT(failures_[0], HasSubstr("unknown exception"));
}

TEST_F(supervised_task_test, the_restart_delay_doubles_up_to_its_ceiling) {
    restart_policy policy{1000ms, 5000ms};
    EXPECT_EQ(restart_delay(policy, 1), 1000ms);
    EXPECT_EQ(restart_delay(policy, 2), 2000ms);
    EXPECT_EQ(restart_delay(policy, 3), 4000ms);
    EXPECT_EQ(restart_delay(policy, 4), 5000ms);
    EXPECT_EQ(restart_delay(policy, 1000), 5000ms);
}

// A transport with a bug on its first request: it throws where it should return a failure.
class buggy_transport final : public http_transport {
public:
    asio::awaitable<result<http_response>> send(url const&, http_request) override {
        if (++requests == 1) throw std::out_of_range("vector index out of range");
        co_return make_failure(failure_kind::connect, "cannot connect to ecr.test:443: Connection refused");
    }
    int requests = 0;
};

// The real refresh functions as service.cpp runs them, through the supervisor, with the target's
// health turned failing as the service's failure callback does: the exception reaches /healthz
// (503, "failing", the message) and the task runs again.
TEST_F(supervised_task_test, a_refresh_that_throws_turns_the_target_failing_and_runs_again) {
    buggy_transport transport;
    ecr_client ecr{transport, "eu-west-1", *parse_url("https://ecr.test")};
    rancher_client rancher{transport, *parse_url("http://rancher.test/v2-beta"), "", ""};
    cattle_writer writer{rancher, false};
    aws_credentials credentials{"AKIDEXAMPLE", "secret", "", std::nullopt, "environment"};
    std::vector<target_status> statuses{target_status{"default", false, false, {}, {}, {{"default", {}, {}, {}, {}}}}};
    int completed = 0;
    auto t = task("the refresh task of default", [&]() -> asio::awaitable<void> {
        // As service::refresh() does: the tokens from ECR, then each written into Rancher.
        auto tokens = co_await fetch_ecr_tokens(ecr, credentials, {});
        refresh_outcome outcome;
        if (tokens) outcome = co_await write_tokens(writer, std::move(*tokens));
        else outcome.problem = tokens.error();
        statuses[0].attempted = true;
        statuses[0].last_refresh_ok = outcome.ok();
        if (outcome.problem) statuses[0].last_error = describe(*outcome.problem);
        ++completed;
    });
    std::optional<health_report> health_after_failure;
    t.on_failure = [&](std::string const& error) {
        statuses[0].attempted = true;
        statuses[0].last_refresh_ok = false;
        statuses[0].last_error = "the refresh task failed: " + error;
        health_after_failure = evaluate_health(statuses, std::chrono::system_clock::now());
    };
    spawn_supervised(context_.get_executor(), std::move(t));
    run();
    ASSERT_TRUE(health_after_failure.has_value()) << log_.str();
    EXPECT_EQ(health_after_failure->http_status, 503);
    EXPECT_THAT(health_after_failure->body, HasSubstr("\"failing\""));
    EXPECT_THAT(health_after_failure->body, HasSubstr("vector index out of range"));
    EXPECT_EQ(occurrences(log_.str(), "vector index out of range"), 1u) << log_.str();
    EXPECT_EQ(transport.requests, 2);  // restarted: the second run asked again
    EXPECT_EQ(completed, 1);
}

}  // namespace
}  // namespace rancher_ecr
