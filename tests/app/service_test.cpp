// The real binary end to end over loopback: moto_server (signature checking on) as ECR and the
// Rancher stand-in, with the probes read over HTTP as Kubernetes or Docker would.
#include <csignal>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "net/https_client.hpp"
#include "support/child_process.hpp"
#include "support/end_to_end_test.hpp"
#include "support/eventually.hpp"
#include "support/loopback_server.hpp"
#include "support/rancher_stand_in.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using rancher_ecr::testing::contains;
using rancher_ecr::testing::eventually;
using rancher_ecr::testing::rancher_stand_in;

class service_test : public rancher_ecr::testing::end_to_end_test<rancher_stand_in> {
protected:
    std::string secret_of(std::string const& credential_id) {
        auto const stored = rancher_->credential(credential_id);
        auto const& value = stored.at("secretValue");
        return value.is_string() ? std::string{value.as_string()} : std::string{};
    }
};

TEST_F(service_test, writes_the_token_into_the_existing_credential_and_reports_healthy) {
    auto registry = rancher_->add_registry(host());
    auto credential = rancher_->add_credential(registry, "AWS", "expired-password");
    start();
    ASSERT_TRUE(eventually([&] { return secret_of(credential) == password(); })) << log();
    auto const stored = rancher_->credential(credential);
    EXPECT_EQ(stored.at("publicValue").as_string(), "AWS");
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();
    auto health = boost::json::parse(probe("/healthz")->body).as_object();
    EXPECT_EQ(health.at("status").as_string(), "ok");
    EXPECT_TRUE(health.at("last_error").is_null());
    EXPECT_TRUE(probe("/ping").has_value());
    EXPECT_EQ(probe("/ping")->status, 200);
    EXPECT_EQ(probe("/nope")->status, 404);
}

TEST_F(service_test, updates_every_active_credential_of_the_registry) {
    auto registry = rancher_->add_registry(host());
    auto first = rancher_->add_credential(registry, "AWS", "old-1");
    auto second = rancher_->add_credential(registry, "AWS", "old-2", "inactive");
    start();
    ASSERT_TRUE(eventually([&] { return secret_of(first) == password() && secret_of(second) == password(); }))
        << log();
}

TEST_F(service_test, finds_the_registry_on_a_later_page_and_ignores_a_removed_twin) {
    for (int i = 0; i < 120; ++i) rancher_->add_registry("other-" + std::to_string(i) + ".example.com");
    auto removed_twin = rancher_->add_registry(host(), "removed", true);
    auto twin_credential = rancher_->add_credential(removed_twin, "AWS", "untouched", "removed", true);
    auto registry = rancher_->add_registry("HTTPS://" + host() + "/");
    auto credential = rancher_->add_credential(registry, "AWS", "old");
    start();
    ASSERT_TRUE(eventually([&] { return secret_of(credential) == password(); })) << log();
    EXPECT_EQ(secret_of(twin_credential), "untouched");
    EXPECT_EQ(rancher_->registries().size(), 122u);  // nothing created
}

TEST_F(service_test, auto_create_off_reports_the_missing_registry_and_writes_nothing) {
    start();
    ASSERT_TRUE(eventually([&] {
        auto answer = probe("/healthz");
        return answer && answer->status == 503 && contains(answer->body, "failing");
    })) << log();
    EXPECT_TRUE(contains(probe("/healthz")->body, host())) << probe("/healthz")->body;
    EXPECT_TRUE(rancher_->registries().empty());
    EXPECT_TRUE(contains(probe("/metrics")->body,
                         "rancher_ecr_credentials_refresh_failures_total{reason=\"registry_not_found\"} 1"));
}

TEST_F(service_test, auto_create_on_creates_the_registry_with_the_bare_host_and_its_credential) {
    auto env = environment();
    env["AUTO_CREATE"] = "true";
    start(env);
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();
    auto registries = rancher_->registries();
    ASSERT_EQ(registries.size(), 1u);
    EXPECT_EQ(registries[0].at("serverAddress").as_string(), host());
    auto credentials = rancher_->credentials_of(std::string{registries[0].at("id").as_string()});
    ASSERT_EQ(credentials.size(), 1u);
    EXPECT_EQ(credentials[0].at("secretValue").as_string(), password());
}

TEST_F(service_test, rancher_503s_then_recovery) {
    auto registry = rancher_->add_registry(host());
    auto credential = rancher_->add_credential(registry, "AWS", "old");
    rancher_->add_fault(boost::json::object{{"match", {{"method", "PUT"}}}, {"fault", "status"}, {"status", 503},
                                            {"times", 2}});
    start();
    ASSERT_TRUE(eventually([&] { return secret_of(credential) == password(); }, 30s)) << log();
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();
    auto metrics = probe("/metrics")->body;
    EXPECT_TRUE(contains(metrics, "rancher_ecr_credentials_refresh_failures_total{reason=\"rancher\"} 2")) << metrics;
    EXPECT_TRUE(contains(log(), "HTTP 503")) << log();
}

TEST_F(service_test, a_truncated_answer_is_retried) {
    auto registry = rancher_->add_registry(host());
    auto credential = rancher_->add_credential(registry, "AWS", "old");
    rancher_->add_fault(boost::json::object{{"match", {{"method", "GET"}, {"path_contains", "registries"}}},
                                            {"fault", "truncate"},
                                            {"times", 1}});
    start();
    ASSERT_TRUE(eventually([&] { return secret_of(credential) == password(); }, 30s)) << log();
    EXPECT_TRUE(contains(probe("/metrics")->body, "refresh_failures_total{reason=\"rancher\"} 1")) << log();
}

// ECR throttles the first two calls; a forwarding stand-in in front of moto plays that part.
TEST_F(service_test, ecr_throttling_then_recovery) {
    auto registry = rancher_->add_registry(host());
    auto credential = rancher_->add_credential(registry, "AWS", "old");
    std::atomic<int> throttled{0};
    auto moto = *parse_url(aws_->endpoint());
    rancher_ecr::testing::loopback_server throttling{[&](http_request const& request) {
        using answer = rancher_ecr::testing::scripted_answer;
        if (throttled < 2) {
            ++throttled;
            return answer{answer::action::respond,
                          {400, {{"Content-Type", "application/x-amz-json-1.1"}},
                           R"({"__type":"ThrottlingException","message":"Rate exceeded"})"},
                          {}};
        }
        boost::asio::io_context context;
        https_client forward{context.get_executor(), {}};
        auto response = rancher_ecr::testing::run_with_deadline(context, forward.send(moto, request), 10s);
        if (!response) return answer{answer::action::close, {}, {}};
        return answer{answer::action::respond, *response, {}};
    }};
    auto env = environment();
    env["AWS_ENDPOINT_URL_ECR"] = "http://127.0.0.1:" + std::to_string(throttling.port());
    start(env);
    ASSERT_TRUE(eventually([&] { return secret_of(credential) == password(); }, 30s)) << log();
    EXPECT_EQ(throttled.load(), 2);
    EXPECT_TRUE(contains(log(), "ThrottlingException")) << log();
    EXPECT_TRUE(contains(probe("/metrics")->body, "refresh_failures_total{reason=\"ecr\"} 2"));
}

TEST_F(service_test, two_registry_ids_are_synced_independently) {
    auto const first_host = "111111111111.dkr.ecr." + aws_->region() + ".amazonaws.com";
    auto const second_host = "222222222222.dkr.ecr." + aws_->region() + ".amazonaws.com";
    auto first = rancher_->add_credential(rancher_->add_registry(first_host), "AWS", "old");
    // The second account has no registry in Rancher: it fails, the first is still written.
    auto env = environment();
    env["AWS_ECR_REGISTRY_IDS"] = "111111111111,222222222222";
    start(env);
    ASSERT_TRUE(eventually([&] { return secret_of(first) == "111111111111-auth-token"; })) << log();
    ASSERT_TRUE(eventually([&] {
        auto answer = probe("/healthz");
        return answer && contains(answer->body, "\"222222222222\"") && contains(answer->body, "failing");
    })) << log();
    EXPECT_EQ(probe("/healthz")->status, 503);
    // Once the second registry exists, its next retry writes it too and the service is healthy.
    auto second = rancher_->add_credential(rancher_->add_registry(second_host), "AWS", "old");
    ASSERT_TRUE(eventually([&] { return secret_of(second) == "222222222222-auth-token"; }, 30s)) << log();
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();
}

TEST_F(service_test, healthz_is_503_until_the_first_refresh_completes) {
    auto registry = rancher_->add_registry(host());
    auto credential = rancher_->add_credential(registry, "AWS", "old");
    rancher_->add_fault(
        boost::json::object{{"match", {{"method", "PUT"}}}, {"fault", "delay"}, {"seconds", 2}, {"times", 1}});
    start();
    ASSERT_TRUE(eventually([&] {
        auto answer = probe("/healthz");
        return answer && answer->status == 503 && contains(answer->body, "starting");
    })) << log();
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();
    EXPECT_EQ(secret_of(credential), password());
}

TEST_F(service_test, sigterm_in_the_middle_of_a_refresh_exits_0) {
    auto registry = rancher_->add_registry(host());
    rancher_->add_credential(registry, "AWS", "old");
    rancher_->add_fault(
        boost::json::object{{"match", {{"method", "PUT"}}}, {"fault", "delay"}, {"seconds", 30}, {"times", 1}});
    start();
    ASSERT_TRUE(eventually([&] {
        auto requests = rancher_->state().at("requests").as_array();
        return std::ranges::any_of(requests, [](auto const& r) { return r.as_object().at("method") == "PUT"; });
    })) << log();
    service_->signal(SIGTERM);
    auto code = service_->wait(10s);
    ASSERT_TRUE(code.has_value()) << "still running after SIGTERM\n" << log();
    EXPECT_EQ(*code, 0) << log();
    EXPECT_TRUE(contains(service_->output(), "received SIGTERM: stopping"));
    service_.reset();
}

TEST_F(service_test, metrics_pass_promtool) {
    rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    start();
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();
    auto metrics = probe("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
    EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    std::string path = ::testing::TempDir() + "service-metrics.prom";
    std::ofstream{path} << metrics->body;
    auto checked = rancher_ecr::testing::run_command({"sh", "-c", "promtool check metrics < " + path},
                                                     {{"PATH", "/usr/bin:/bin"}}, 30s);
    EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << metrics->body;
    EXPECT_EQ(checked.output, "") << checked.output;
}

TEST_F(service_test, once_writes_and_exits_0_or_1) {
    auto credential = rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    auto ok = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, environment(), 30s);
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
    EXPECT_EQ(secret_of(credential), password());
    rancher_->reset();
    auto missing = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, environment(), 30s);
    EXPECT_EQ(missing.exit_code, 1) << missing.output;
    EXPECT_TRUE(contains(missing.output, host())) << missing.output;
}

TEST_F(service_test, no_secret_appears_in_the_logs_at_trace) {
    auto registry = rancher_->add_registry(host());
    rancher_->add_credential(registry, "AWS", "old");
    rancher_->add_fault(boost::json::object{{"match", {{"method", "PUT"}}}, {"fault", "status"}, {"status", 503},
                                            {"times", 1}});
    auto env = environment();
    env["LOG_LEVEL"] = "trace";
    env["AWS_ACCESS_KEY_ID"] = aws_->session().access_key_id;
    env["AWS_SECRET_ACCESS_KEY"] = aws_->session().secret_access_key;
    env["AWS_SESSION_TOKEN"] = aws_->session().session_token;
    start(env);
    ASSERT_TRUE(eventually([&] { return health_status() == 200; }, 30s)) << log();
    auto metrics = probe("/metrics")->body;
    auto health = probe("/healthz")->body;
    service_->signal(SIGTERM);
    service_->wait(10s);
    auto output = service_->output();
    for (auto const& secret : {aws_->session().secret_access_key, aws_->session().session_token,
                               aws_->session().access_key_id, password(), rancher_->secret_key(),
                               rancher_->access_key(), std::string{"QVdTOj"}}) {
        EXPECT_FALSE(contains(output, secret)) << "a secret in the log:\n" << output;
        EXPECT_FALSE(contains(metrics, secret));
        EXPECT_FALSE(contains(health, secret));
    }
    EXPECT_TRUE(contains(output, "trace") || contains(output, "debug")) << output;
    service_.reset();
}

}  // namespace
}  // namespace rancher_ecr
