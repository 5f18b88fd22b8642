#include "obs/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;

std::chrono::system_clock::time_point at(long long seconds) {
    return std::chrono::system_clock::time_point{std::chrono::seconds{seconds}};
}

std::string value(double v) {
    std::string out;
    append_sample_value(out, v);
    return out;
}

TEST(append_sample_value, integers_fractions_and_special_values) {
    EXPECT_EQ(value(0), "0");
    EXPECT_EQ(value(1420070400), "1420070400");
    EXPECT_EQ(value(0.25), "0.25");
    EXPECT_EQ(value(std::numeric_limits<double>::quiet_NaN()), "NaN");
    EXPECT_EQ(value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(append_label_value, escapes_backslash_quote_and_newline) {
    std::string out;
    append_label_value(out, "a\\b\"c\nd");
    EXPECT_EQ(out, R"("a\\b\"c\nd")");
}

TEST(duration_histogram, buckets_are_cumulative_and_end_with_inf) {
    duration_histogram h;
    h.observe(3ms);
    h.observe(70ms);
    h.observe(30s);
    std::string out;
    h.render(out, "request_duration_seconds", "service=\"ecr\"");
    EXPECT_NE(out.find("rancher_ecr_credentials_request_duration_seconds_bucket{service=\"ecr\",le=\"0.005\"} 1\n"),
              std::string::npos) << out;
    EXPECT_NE(out.find("_bucket{service=\"ecr\",le=\"0.05\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("_bucket{service=\"ecr\",le=\"0.1\"} 2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("_bucket{service=\"ecr\",le=\"10\"} 2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("_bucket{service=\"ecr\",le=\"+Inf\"} 3\n"), std::string::npos) << out;
    EXPECT_NE(out.find("_count{service=\"ecr\"} 3\n"), std::string::npos) << out;
    EXPECT_NE(out.find("_sum{service=\"ecr\"} 30.073"), std::string::npos) << out;
}

TEST(service_metrics, renders_every_family_with_its_type) {
    service_metrics metrics{"1.2.3"};
    metrics.refresh_attempted();
    metrics.refresh_attempted();
    metrics.refresh_failed("rancher");
    metrics.token_written("t", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "", at(1'800'043'200), at(1'800'000'000));
    metrics.every_target_succeeded(at(1'800'000'000));
    metrics.ecr_request(20ms);
    auto const text = metrics.render();
    for (auto line : {
             "# TYPE rancher_ecr_credentials_build_info gauge\n",
             "rancher_ecr_credentials_build_info{version=\"1.2.3\"} 1\n",
             "# TYPE rancher_ecr_credentials_last_success_timestamp_seconds gauge\n",
             "rancher_ecr_credentials_last_success_timestamp_seconds 1800000000\n",
             "# TYPE rancher_ecr_credentials_registry_last_success_timestamp_seconds gauge\n",
             "rancher_ecr_credentials_registry_last_success_timestamp_seconds{target=\"t\",registry=\"123456789012.dkr.ecr.us-east-1."
             "amazonaws.com\"} 1800000000\n",
             "rancher_ecr_credentials_token_expiry_timestamp_seconds{target=\"t\",registry=\"123456789012.dkr.ecr.us-east-1."
             "amazonaws.com\"} 1800043200\n",
             "# TYPE rancher_ecr_credentials_refresh_attempts_total counter\n",
             "rancher_ecr_credentials_refresh_attempts_total 2\n",
             "rancher_ecr_credentials_refresh_failures_total{reason=\"ecr\"} 0\n",
             "rancher_ecr_credentials_refresh_failures_total{reason=\"rancher\"} 1\n",
             "rancher_ecr_credentials_refresh_failures_total{reason=\"registry_not_found\"} 0\n",
             "# TYPE rancher_ecr_credentials_request_duration_seconds histogram\n",
             "rancher_ecr_credentials_request_duration_seconds_count{service=\"ecr\"} 1\n",
             "rancher_ecr_credentials_request_duration_seconds_count{service=\"rancher\"} 0\n",
         })
        EXPECT_NE(text.find(line), std::string::npos) << line << "\n---\n" << text;
}

// Two accounts, the second failing at every try: its registry claims no success, nor does the
// unlabelled series, which counts only refreshes after which every target had succeeded.
TEST(service_metrics, each_registry_has_its_own_last_success_and_none_is_claimed_for_a_failing_one) {
    service_metrics metrics{"1"};
    auto const first = "111111111111.dkr.ecr.us-east-1.amazonaws.com";
    metrics.refresh_attempted();
    metrics.token_written("t", first, "", at(1'800'043'200), at(1'800'000'000));
    metrics.refresh_attempted();
    metrics.refresh_failed("registry_not_found");
    auto text = metrics.render();
    EXPECT_NE(text.find("rancher_ecr_credentials_registry_last_success_timestamp_seconds{target=\"t\",registry=\"111111111111.dkr."
                        "ecr.us-east-1.amazonaws.com\"} 1800000000\n"),
              std::string::npos) << text;
    EXPECT_EQ(text.find("222222222222"), std::string::npos) << text;
    EXPECT_NE(text.find("\nrancher_ecr_credentials_last_success_timestamp_seconds 0\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# HELP rancher_ecr_credentials_last_success_timestamp_seconds Unix time of the last successful "
                        "refresh of a target (labelled target), and unlabelled of the last refresh after which every "
                        "target's last refresh had succeeded"),
              std::string::npos) << text;

    // The second account's registry appears: both are written, and now every target has succeeded.
    metrics.token_written("t", "222222222222.dkr.ecr.us-east-1.amazonaws.com", "", at(1'800'043'260), at(1'800'000'060));
    metrics.every_target_succeeded(at(1'800'000'060));
    text = metrics.render();
    EXPECT_NE(text.find("registry_last_success_timestamp_seconds{target=\"t\",registry=\"111111111111.dkr.ecr.us-east-1."
                        "amazonaws.com\"} 1800000000\n"),
              std::string::npos) << text;
    EXPECT_NE(text.find("registry_last_success_timestamp_seconds{target=\"t\",registry=\"222222222222.dkr.ecr.us-east-1."
                        "amazonaws.com\"} 1800000060\n"),
              std::string::npos) << text;
    EXPECT_NE(text.find("\nrancher_ecr_credentials_last_success_timestamp_seconds 1800000060\n"), std::string::npos)
        << text;
}

TEST(service_metrics, the_generation_changes_with_every_change_and_only_then) {
    service_metrics metrics{"1"};
    auto const generation = metrics.generation();
    auto const copy = metrics.render();
    EXPECT_EQ(metrics.render(), copy);
    EXPECT_EQ(metrics.generation(), generation);
    metrics.refresh_attempted();
    EXPECT_NE(metrics.generation(), generation);
    EXPECT_NE(metrics.render(), copy);
}

// promtool (Debian package prometheus) is the reference checker of the exposition format.
TEST(service_metrics, passes_promtool_check_metrics) {
    service_metrics metrics{"0.1.0"};
    metrics.refresh_attempted();
    metrics.refresh_failed("ecr");
    metrics.token_written("t", "a.dkr.ecr.us-east-1.amazonaws.com", "", at(1'800'043'200), at(1'800'000'000));
    metrics.token_written("t", "b.dkr.ecr.us-east-1.amazonaws.com", "", at(1'800'043'201), at(1'800'000'001));
    metrics.every_target_succeeded(at(1'800'000'001));
    metrics.target_refreshed("t", true, at(1'800'000'001));
    metrics.target_refreshed("u", false, at(1'800'000'001));
    metrics.config_reloaded(true);
    metrics.ecr_request(120ms);
    metrics.rancher_request(2ms);
    std::string path = ::testing::TempDir() + "metrics.prom";
    std::ofstream{path} << metrics.render();
    std::string command = "promtool check metrics < " + path + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char chunk[512];
    while (auto n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
    int status = pclose(pipe);
    EXPECT_EQ(status, 0) << output << "\n---\n" << metrics.render();
    EXPECT_EQ(output, "") << output;
}

TEST(service_metrics, rancher_2_series_carry_the_credential) {
    service_metrics metrics{"1.2.3"};
    metrics.token_written("t", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "ecr-pull", at(1'800'043'200),
                          at(1'800'000'000));
    auto const text = metrics.render();
    EXPECT_NE(text.find("rancher_ecr_credentials_token_expiry_timestamp_seconds{target=\"t\",registry=\"123456789012.dkr.ecr.us-"
                        "east-1.amazonaws.com\",credential=\"ecr-pull\"} 1800043200\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("rancher_ecr_credentials_registry_last_success_timestamp_seconds{target=\"t\",registry=\"123456789012.dkr."
                        "ecr.us-east-1.amazonaws.com\",credential=\"ecr-pull\"} 1800000000\n"),
              std::string::npos)
        << text;
}

TEST(service_metrics, each_target_has_its_health_and_last_success_and_a_removed_one_has_none) {
    service_metrics metrics{"1"};
    metrics.target_refreshed("prod/env-1", true, at(1'800'000'000));
    metrics.target_refreshed("prod/env-2", false, at(1'800'000'000));
    metrics.token_written("prod/env-1", "a.dkr.ecr.us-east-1.amazonaws.com", "", at(1'800'043'200), at(1'800'000'000));
    metrics.config_reloaded(true);
    metrics.config_reloaded(false);
    auto text = metrics.render();
    for (auto line : {"rancher_ecr_credentials_target_healthy{target=\"prod/env-1\"} 1\n",
                      "rancher_ecr_credentials_target_healthy{target=\"prod/env-2\"} 0\n",
                      "rancher_ecr_credentials_last_success_timestamp_seconds{target=\"prod/env-1\"} 1800000000\n",
                      "rancher_ecr_credentials_config_reloads_total 1\n",
                      "rancher_ecr_credentials_config_reload_failures_total 1\n"})
        EXPECT_NE(text.find(line), std::string::npos) << line << "\n---\n" << text;
    // A failing target claims no success time.
    EXPECT_EQ(text.find("last_success_timestamp_seconds{target=\"prod/env-2\"}"), std::string::npos) << text;
    metrics.forget_target("prod/env-1");
    text = metrics.render();
    EXPECT_EQ(text.find("prod/env-1"), std::string::npos) << text;
    EXPECT_NE(text.find("prod/env-2"), std::string::npos) << text;
}

}  // namespace
}  // namespace rancher_ecr
