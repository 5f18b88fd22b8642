#include "obs/health.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using clock_point = std::chrono::system_clock::time_point;
clock_point const now = clock_point{std::chrono::seconds{1'800'000'000}};  // 2027-01-15T08:00:00Z

target_status fresh(std::string name) {
    target_status t;
    t.name = name;
    t.attempted = true;
    t.last_refresh_ok = true;
    t.last_success = now - 1h;
    t.registries.push_back({name, name + ".dkr.ecr.us-east-1.amazonaws.com", now + 11h, {}, {}});
    return t;
}

boost::json::object body_of(health_report const& report) { return boost::json::parse(report.body).as_object(); }

TEST(evaluate_health, ok_when_every_token_is_fresh) {
    auto report = evaluate_health(std::vector<target_status>{fresh("111111111111"), fresh("222222222222")}, now);
    EXPECT_EQ(report.http_status, 200);
    auto body = body_of(report);
    EXPECT_EQ(body.at("status").as_string(), "ok");
    EXPECT_EQ(body.at("last_success").as_string(), "2027-01-15T07:00:00.000Z");
    EXPECT_EQ(body.at("token_expires_at").as_string(), "2027-01-15T19:00:00.000Z");
    EXPECT_TRUE(body.at("last_error").is_null());
    EXPECT_EQ(body.at("registries").as_array().size(), 2u);
}

TEST(evaluate_health, starting_before_the_first_refresh_completes) {
    target_status waiting;
    waiting.name = "default";
    auto report = evaluate_health(std::vector<target_status>{waiting}, now);
    EXPECT_EQ(report.http_status, 503);
    auto body = body_of(report);
    EXPECT_EQ(body.at("status").as_string(), "starting");
    EXPECT_TRUE(body.at("last_success").is_null());
    EXPECT_TRUE(body.at("token_expires_at").is_null());
    EXPECT_EQ(evaluate_health(std::vector<target_status>{}, now).http_status, 503);
}

TEST(evaluate_health, failing_when_the_last_refresh_failed_even_with_a_valid_token) {
    auto broken = fresh("222222222222");
    broken.last_refresh_ok = false;
    broken.last_error = "writing \"x\" failed: HTTP 503\nretry";
    auto report = evaluate_health(std::vector<target_status>{fresh("111111111111"), broken}, now);
    EXPECT_EQ(report.http_status, 503);
    auto body = body_of(report);
    EXPECT_EQ(body.at("status").as_string(), "failing");
    EXPECT_EQ(body.at("last_error").as_string(), broken.last_error);  // escaped and parsed back intact
    EXPECT_EQ(body.at("registries").as_array()[1].as_object().at("status").as_string(), "failing");
    EXPECT_EQ(body.at("registries").as_array()[0].as_object().at("status").as_string(), "ok");
}

TEST(evaluate_health, expired_when_the_token_in_rancher_has_expired) {
    auto stale = fresh("111111111111");
    stale.registries[0].token_expires_at = now - 1s;
    auto report = evaluate_health(std::vector<target_status>{stale}, now);
    EXPECT_EQ(report.http_status, 503);
    EXPECT_EQ(body_of(report).at("status").as_string(), "expired");
}

TEST(evaluate_health, expired_wins_over_failing) {
    auto stale = fresh("111111111111");
    stale.registries[0].token_expires_at = now - 8h;
    stale.last_refresh_ok = false;
    stale.last_error = "fetching the ECR token failed";
    auto broken = fresh("222222222222");
    broken.last_refresh_ok = false;
    auto report = evaluate_health(std::vector<target_status>{broken, stale}, now);
    EXPECT_EQ(report.http_status, 503);
    EXPECT_EQ(body_of(report).at("status").as_string(), "expired");
}

TEST(evaluate_health, one_target_still_starting_hides_the_others_success_time) {
    target_status waiting;
    waiting.name = "222222222222";
    auto body = body_of(evaluate_health(std::vector<target_status>{fresh("111111111111"), waiting}, now));
    EXPECT_EQ(body.at("status").as_string(), "starting");
    EXPECT_TRUE(body.at("last_success").is_null());
}

TEST(evaluate_health, each_entry_names_its_credential_and_namespace) {
    auto rancher_1 = fresh("111111111111");
    auto namespaced = fresh("222222222222");
    namespaced.registries[0].credential = "ecr-222222222222-us-east-1";
    namespaced.registries[0].namespace_name = "apps";
    auto body = body_of(evaluate_health(std::vector<target_status>{rancher_1, namespaced}, now));
    auto const& entries = body.at("registries").as_array();
    EXPECT_TRUE(entries.at(0).at("credential").is_null());
    EXPECT_TRUE(entries.at(0).at("namespace").is_null());
    EXPECT_EQ(entries.at(1).at("credential").as_string(), "ecr-222222222222-us-east-1");
    EXPECT_EQ(entries.at(1).at("namespace").as_string(), "apps");
}

TEST(evaluate_health, lists_each_target_with_its_registries) {
    auto prod = fresh("prod");
    prod.registries.push_back({"222222222222", "222222222222.dkr.ecr.us-east-1.amazonaws.com", now + 2h, "ecr", {}});
    auto broken = fresh("team-a");
    broken.last_refresh_ok = false;
    broken.last_error = "Rancher answered HTTP 401";
    auto body = body_of(evaluate_health(std::vector<target_status>{prod, broken}, now));
    auto const& targets = body.at("targets").as_array();
    ASSERT_EQ(targets.size(), 2u);
    EXPECT_EQ(targets[0].at("name").as_string(), "prod");
    EXPECT_EQ(targets[0].at("status").as_string(), "ok");
    EXPECT_EQ(targets[0].at("token_expires_at").as_string(), "2027-01-15T10:00:00.000Z");  // the earlier of two
    EXPECT_EQ(targets[0].at("registries").as_array().size(), 2u);
    EXPECT_EQ(targets[0].at("registries").as_array()[1].at("credential").as_string(), "ecr");
    EXPECT_EQ(targets[1].at("status").as_string(), "failing");
    EXPECT_EQ(targets[1].at("last_error").as_string(), "Rancher answered HTTP 401");
    EXPECT_EQ(body.at("registries").as_array()[2].at("target").as_string(), "team-a");
}

TEST(evaluate_health, the_targets_only_layout_has_no_flat_registries_and_keeps_the_order) {
    auto body = body_of(evaluate_health(std::vector<target_status>{fresh("prod")}, now, health_layout::targets_only));
    std::vector<std::string> keys;
    for (auto const& field : body) keys.emplace_back(field.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"status", "last_success", "token_expires_at", "last_error", "targets"}));
    EXPECT_EQ(body.at("targets").as_array()[0].at("registries").as_array().size(), 1u);
}

TEST(evaluate_health, a_target_without_registries_is_ok_once_it_succeeded) {
    target_status lister;  // environments: all, whose places are targets of their own
    lister.name = "prod";
    lister.attempted = true;
    lister.last_refresh_ok = true;
    lister.last_success = now;
    EXPECT_EQ(evaluate_health(std::vector<target_status>{lister}, now).http_status, 200);
    auto waiting = fresh("prod/Default");
    waiting.registries[0].token_expires_at.reset();  // its registry has no token yet
    EXPECT_EQ(health_of(waiting, now), health_state::failing);
}

}  // namespace
}  // namespace rancher_ecr
