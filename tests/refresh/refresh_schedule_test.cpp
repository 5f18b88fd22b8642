#include "refresh/refresh_schedule.hpp"

#include <random>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using clock_point = std::chrono::system_clock::time_point;

clock_point const now = clock_point{std::chrono::seconds{1'800'000'000}};
schedule_policy const policy{};  // 6 h interval, 30 s spacing, 2 s .. 5 min backoff

double always(double value) { return value; }

TEST(assess_expiry, keeps_a_plausible_expiry) {
    auto e = assess_expiry(now, now + 12h, policy);
    EXPECT_EQ(e.at, now + 12h);
    EXPECT_FALSE(e.reported_ignored);
}

TEST(assess_expiry, replaces_a_past_expiry_like_motos_2015_by_the_documented_lifetime) {
    auto const moto = clock_point{std::chrono::seconds{1'420'070'400}};  // 2015-01-01
    auto e = assess_expiry(now, moto, policy);
    EXPECT_TRUE(e.reported_ignored);
    EXPECT_EQ(e.at, now + 12h);
    EXPECT_TRUE(assess_expiry(now, now, policy).reported_ignored);
}

TEST(assess_expiry, replaces_an_absurdly_distant_expiry) {
    EXPECT_TRUE(assess_expiry(now, now + 24h * 365, policy).reported_ignored);
    EXPECT_FALSE(assess_expiry(now, now + 24h * 7, policy).reported_ignored);
}

TEST(delay_after_success, is_the_interval_when_the_token_outlives_it_twice) {
    EXPECT_EQ(delay_after_success(now, now + 24h, policy), milliseconds{6h});
}

TEST(delay_after_success, is_half_the_remaining_lifetime_when_that_comes_first) {
    EXPECT_EQ(delay_after_success(now, now + 10h, policy), milliseconds{5h});
    schedule_policy daily = policy;
    daily.interval = 24h;
    EXPECT_EQ(delay_after_success(now, now + 12h, daily), milliseconds{6h});
}

TEST(delay_after_success, never_spins_on_a_very_short_or_past_expiry) {
    EXPECT_EQ(delay_after_success(now, now + 10s, policy), milliseconds{30s});
    EXPECT_EQ(delay_after_success(now, now - 1h, policy), milliseconds{30s});
}

TEST(delay_after_success, follows_a_short_interval) {
    schedule_policy quick = policy;
    quick.interval = 90s;
    EXPECT_EQ(delay_after_success(now, now + 12h, quick), milliseconds{90s});
}

TEST(delay_after_success, an_interval_below_the_spacing_is_the_operators_choice) {
    schedule_policy tiny = policy;
    tiny.interval = 1s;
    EXPECT_EQ(delay_after_success(now, now + 12h, tiny), milliseconds{1s});
    EXPECT_EQ(delay_after_success(now, now + 1s, tiny), milliseconds{1s});
}

TEST(delay_after_failure, ceiling_doubles_from_the_first_retry_up_to_the_cap) {
    auto const top = [](int failures) { return delay_after_failure(failures, now, now + 12h, policy, [] { return 0.999999; }); };
    EXPECT_EQ(top(1), milliseconds{1999});
    EXPECT_EQ(top(2), milliseconds{3999});
    EXPECT_EQ(top(3), milliseconds{7999});
    EXPECT_EQ(top(8), milliseconds{255999});
    EXPECT_EQ(top(9), milliseconds{299999});
    EXPECT_EQ(top(1'000'000), milliseconds{299999});
}

TEST(delay_after_failure, jitter_stays_within_bounds_over_many_draws) {
    std::mt19937_64 engine{42};
    std::uniform_real_distribution<double> unit{0.0, 1.0};
    milliseconds smallest{milliseconds::max()}, largest{0};
    for (int i = 0; i < 10'000; ++i) {
        auto failures = 1 + i % 12;
        auto d = delay_after_failure(failures, now, now + 12h, policy, [&] { return unit(engine); });
        ASSERT_GE(d, milliseconds{1s});
        ASSERT_LE(d, milliseconds{5min});
        smallest = std::min(smallest, d);
        largest = std::max(largest, d);
    }
    // Full jitter spreads the retries: not all at one point.
    EXPECT_LT(smallest, milliseconds{2s});
    EXPECT_GT(largest, milliseconds{4min});
}

TEST(delay_after_failure, never_below_the_minimum) {
    EXPECT_EQ(delay_after_failure(1, now, now + 12h, policy, [] { return always(0.0); }), milliseconds{1s});
}

TEST(delay_after_failure, retries_before_the_current_token_expires) {
    // 4 minutes of validity left: retries come within 2 minutes, not after 5.
    for (int failures = 1; failures < 20; ++failures) {
        auto d = delay_after_failure(failures, now, now + 4min, policy, [] { return 0.999; });
        EXPECT_LE(d, milliseconds{2min}) << failures;
    }
}

TEST(delay_after_failure, an_expired_or_unknown_token_uses_plain_backoff) {
    EXPECT_EQ(delay_after_failure(9, now, now - 1h, policy, [] { return 0.5; }), milliseconds{150s});
    EXPECT_EQ(delay_after_failure(9, now, std::nullopt, policy, [] { return 0.5; }), milliseconds{150s});
}

TEST(delay_after_failure, never_later_than_the_next_regular_refresh) {
    schedule_policy every_30s;
    every_30s.interval = 30s;
    for (int failures = 1; failures <= 20; ++failures)
        EXPECT_LE(delay_after_failure(failures, now, now + 12h, every_30s, [] { return 0.999999; }), milliseconds{30s});
    EXPECT_GT(delay_after_failure(5, now, now + 12h, every_30s, [] { return 0.999999; }), milliseconds{29s});
    schedule_policy tiny;  // a benchmark's 200 ms: retried every second, the floor
    tiny.interval = 200ms;
    for (int failures = 1; failures <= 20; ++failures)
        EXPECT_EQ(delay_after_failure(failures, now, now + 12h, tiny, [] { return 0.999999; }), milliseconds{1s});
}

}  // namespace
}  // namespace rancher_ecr
