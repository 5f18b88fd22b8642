#include "app/probe_routes.hpp"

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;

std::chrono::system_clock::time_point const now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 30} + 12h;

class probe_answers_test : public ::testing::Test {
protected:
    std::vector<target_status> targets_{target_status{"default", false, false, {}, {}, {{"default", {}, {}, {}, {}}}}};
    service_metrics metrics_{"1.2.3"};
    probe_answers probes_{[this] { return std::span<target_status const>{targets_}; }, metrics_};
};

TEST_F(probe_answers_test, routes_by_path_and_method) {
    EXPECT_EQ(probes_.answer("GET", "/ping", now)->body, "pong\n");
    EXPECT_EQ(probes_.answer("GET", "/healthz?verbose=1", now)->status, 503);
    EXPECT_EQ(probes_.answer("GET", "/metrics", now)->status, 200);
    EXPECT_EQ(probes_.answer("GET", "/", now)->status, 404);
    EXPECT_EQ(probes_.answer("GET", "/healthz/x", now)->status, 404);
    auto post = probes_.answer("POST", "/healthz", now);
    EXPECT_EQ(post->status, 405);
    EXPECT_EQ(post->header("allow"), "GET");
}

TEST_F(probe_answers_test, the_health_answer_is_reused_until_a_target_changes) {
    auto starting = probes_.answer("GET", "/healthz", now);
    EXPECT_EQ(starting->status, 503);
    EXPECT_NE(starting->body.find("\"status\":\"starting\""), std::string::npos) << starting->body;
    EXPECT_EQ(probes_.answer("GET", "/healthz", now + 1s), starting);  // the same answer, not rebuilt

    targets_[0].attempted = true;
    targets_[0].last_refresh_ok = true;
    targets_[0].last_success = now;
    targets_[0].registries[0].token_expires_at = now + 12h;
    EXPECT_EQ(probes_.answer("GET", "/healthz", now + 2s), starting);  // not told yet
    probes_.targets_changed();
    auto healthy = probes_.answer("GET", "/healthz", now + 3s);
    EXPECT_EQ(healthy->status, 200);
    EXPECT_NE(healthy->body.find("\"status\":\"ok\""), std::string::npos) << healthy->body;
    // The answer handed out before is left as it was.
    EXPECT_EQ(starting->status, 503);
}

TEST_F(probe_answers_test, the_health_answer_turns_expired_when_the_token_expires_without_a_change) {
    targets_[0].attempted = true;
    targets_[0].last_refresh_ok = true;
    targets_[0].last_success = now;
    targets_[0].registries[0].token_expires_at = now + 1h;
    probes_.targets_changed();
    EXPECT_EQ(probes_.answer("GET", "/healthz", now)->status, 200);
    EXPECT_EQ(probes_.answer("GET", "/healthz", now + 1h - 1ms)->status, 200);
    auto expired = probes_.answer("GET", "/healthz", now + 1h);
    EXPECT_EQ(expired->status, 503);
    EXPECT_NE(expired->body.find("\"status\":\"expired\""), std::string::npos) << expired->body;
}

TEST_F(probe_answers_test, healthz_with_a_target_answers_for_that_target_alone) {
    targets_.push_back(target_status{"prod/env-1", true, true, now, {}, {{"default", "h", now + 1h, {}, {}}}});
    probes_.targets_changed();
    auto one = probes_.answer("GET", "/healthz?target=prod%2Fenv-1", now);
    EXPECT_EQ(one->status, 200) << one->body;
    EXPECT_NE(one->body.find("\"name\":\"prod/env-1\""), std::string::npos) << one->body;
    EXPECT_EQ(one->body.find("\"default\",\"status\""), std::string::npos) << one->body;  // not the other
    EXPECT_EQ(probes_.answer("GET", "/healthz?target=prod/env-1", now + 1s), one);  // cached
    EXPECT_EQ(probes_.answer("GET", "/healthz?target=default", now)->status, 503);  // still starting
    EXPECT_EQ(probes_.answer("GET", "/healthz", now)->status, 503);                  // the whole: worst wins
    EXPECT_EQ(probes_.answer("GET", "/healthz?target=nope", now)->status, 404);
    EXPECT_EQ(probes_.answer("GET", "/healthz?target", now)->status, 404);  // an empty name names no target
    EXPECT_EQ(probes_.answer("GET", "/healthz?target=prod/env-1", now + 1h)->status, 503);  // expired by time
    targets_.pop_back();
    probes_.targets_changed();
    EXPECT_EQ(probes_.answer("GET", "/healthz?target=prod/env-1", now)->status, 404);  // removed
}

TEST_F(probe_answers_test, the_metrics_answer_is_reused_until_a_metric_changes) {
    auto first = probes_.answer("GET", "/metrics", now);
    EXPECT_NE(first->body.find("rancher_ecr_credentials_refresh_attempts_total 0\n"), std::string::npos)
        << first->body;
    EXPECT_EQ(probes_.answer("GET", "/metrics", now), first);
    metrics_.refresh_attempted();
    auto second = probes_.answer("GET", "/metrics", now);
    EXPECT_NE(second, first);
    EXPECT_NE(second->body.find("rancher_ecr_credentials_refresh_attempts_total 1\n"), std::string::npos)
        << second->body;
    EXPECT_EQ(second->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
}

// From a targets file the body lists the targets alone: the flat list of every account, which the
// body configured from the environment has always had, would say everything twice.
TEST(probe_answers_layout, a_targets_file_health_lists_the_targets_alone) {
    std::vector<target_status> targets{target_status{"prod", true, true, now, {}, {{"default", "h", now + 1h, {}, {}}}}};
    service_metrics metrics{"1.2.3"};
    probe_answers from_file{[&] { return std::span<target_status const>{targets}; }, metrics,
                            health_layout::targets_only};
    probe_answers from_environment{[&] { return std::span<target_status const>{targets}; }, metrics};
    auto file_body = from_file.answer("GET", "/healthz", now)->body;
    EXPECT_EQ(file_body.find("\"registries\":[{\"name\":\"default\",\"target\""), std::string::npos) << file_body;
    EXPECT_NE(file_body.find("\"targets\":[{\"name\":\"prod\""), std::string::npos) << file_body;
    auto environment_body = from_environment.answer("GET", "/healthz", now)->body;
    EXPECT_NE(environment_body.find("\"registries\":[{\"name\":\"default\",\"target\":\"prod\""),
              std::string::npos)
        << environment_body;
}

}  // namespace
}  // namespace rancher_ecr
