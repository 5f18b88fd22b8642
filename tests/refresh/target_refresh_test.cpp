#include "refresh/target_refresh.hpp"

#include <variant>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

system_clock::time_point const t0 = system_clock::time_point{std::chrono::seconds{1'800'000'000}};
std::string const host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

ecr_authorization token(system_clock::time_point expires_at, std::string registry = host) {
    return ecr_authorization{std::move(registry), "AWS", "a-password", expires_at};
}

refresh_outcome written(std::vector<ecr_authorization> const& tokens) {
    refresh_outcome outcome;
    for (auto const& t : tokens) outcome.tokens.push_back({t.registry_host, t.expires_at, "ecr", std::nullopt});
    return outcome;
}

refresh_outcome not_written() {
    refresh_outcome outcome;
    outcome.problem = make_failure(failure_kind::connect, "cannot connect to rancher:443");
    outcome.reason = refresh_failure_reason::rancher;
    return outcome;
}

refresh_outcome ecr_failed() {
    refresh_outcome outcome;
    outcome.problem = make_failure(failure_kind::timeout, "ECR did not answer");
    return outcome;
}

TEST(target_refresh, a_first_refresh_asks_ecr_then_writes_what_it_gave) {
    target_refresh machine{{}};
    EXPECT_TRUE(std::holds_alternative<fetch_tokens_step>(machine.start(t0)));
    auto write = machine.tokens_fetched({token(t0 + 12h)}, t0);
    EXPECT_FALSE(write.kept);
    ASSERT_EQ(write.tokens.size(), 1u);
    auto outcome = written(write.tokens);
    auto wait = machine.finished(outcome, t0, 0.5);
    EXPECT_EQ(wait.delay, 6h);  // the interval, half of the token's 12 hours
    ASSERT_EQ(wait.expiries.size(), 1u);
    EXPECT_EQ(wait.expiries[0].at, t0 + 12h);
    EXPECT_EQ(machine.valid_until(), t0 + 12h);
    EXPECT_EQ(machine.failures(), 0);
}

TEST(target_refresh, a_failed_write_keeps_the_token_for_the_retry_instead_of_asking_ecr) {
    target_refresh machine{{}};
    machine.start(t0);
    auto write = machine.tokens_fetched({token(t0 + 12h)}, t0);
    auto outcome = not_written();
    auto wait = machine.finished(outcome, t0 + 1s, 0.5);
    EXPECT_EQ(machine.failures(), 1);
    EXPECT_GE(wait.delay, 1s);
    EXPECT_LE(wait.delay, 2s);  // the first retry's ceiling
    EXPECT_TRUE(machine.holds_kept_tokens());

    auto retry = machine.start(t0 + 3s);
    ASSERT_TRUE(std::holds_alternative<write_tokens_step>(retry));
    EXPECT_TRUE(std::get<write_tokens_step>(retry).kept);
    EXPECT_EQ(std::get<write_tokens_step>(retry).tokens.size(), 1u);
    // Its lifetime still counts from when ECR gave it.
    auto done = written(std::get<write_tokens_step>(retry).tokens);
    auto after = machine.finished(done, t0 + 4s, 0.5);
    EXPECT_EQ(machine.failures(), 0);
    EXPECT_FALSE(machine.holds_kept_tokens());
    EXPECT_EQ(after.expiries[0].at, t0 + 12h);
}

TEST(target_refresh, a_kept_token_past_half_its_life_is_fetched_again) {
    target_refresh machine{{}};
    machine.start(t0);
    auto write = machine.tokens_fetched({token(t0 + 12h)}, t0);
    auto outcome = not_written();
    machine.finished(outcome, t0 + 1s, 0.5);
    EXPECT_TRUE(std::holds_alternative<fetch_tokens_step>(machine.start(t0 + 7h)));
    EXPECT_FALSE(machine.holds_kept_tokens());
}

TEST(target_refresh, failures_back_off_and_retries_come_before_the_token_in_rancher_expires) {
    schedule_policy policy;
    target_refresh machine{policy};
    machine.start(t0);
    auto write = machine.tokens_fetched({token(t0 + 12h)}, t0);
    auto outcome = written(write.tokens);
    machine.finished(outcome, t0, 0.99);
    std::chrono::milliseconds previous{0};
    for (int i = 1; i <= 12; ++i) {
        EXPECT_TRUE(std::holds_alternative<fetch_tokens_step>(machine.start(t0 + 11h)));
        auto failed = ecr_failed();
        auto wait = machine.finished(failed, t0 + 11h, 0.99);
        EXPECT_EQ(machine.failures(), i);
        EXPECT_GE(wait.delay, previous.count() >= 300'000 ? 1s : previous);  // grows up to its ceiling
        EXPECT_LE(wait.delay, 30min);  // at most half of the hour left
        previous = wait.delay;
    }
    EXPECT_EQ(machine.valid_until(), t0 + 12h);  // a failure does not change what Rancher holds
}

TEST(target_refresh, the_earliest_expiry_of_several_tokens_sets_the_schedule) {
    target_refresh machine{{}};
    machine.start(t0);
    auto write = machine.tokens_fetched({token(t0 + 12h), token(t0 + 2h, "210987654321.dkr.ecr.us-east-1.amazonaws.com")}, t0);
    auto outcome = written(write.tokens);
    auto wait = machine.finished(outcome, t0, 0.5);
    EXPECT_EQ(machine.valid_until(), t0 + 2h);
    EXPECT_EQ(wait.delay, 1h);
}

TEST(target_refresh, an_expiry_in_the_past_counts_as_twelve_hours_from_the_fetch) {
    target_refresh machine{{}};
    machine.start(t0);
    auto write = machine.tokens_fetched({token(system_clock::time_point{std::chrono::seconds{1'420'070'400}})}, t0);
    auto outcome = written(write.tokens);
    auto wait = machine.finished(outcome, t0 + 5s, 0.5);
    EXPECT_TRUE(wait.expiries[0].reported_ignored);
    EXPECT_EQ(wait.expiries[0].at, t0 + 12h);
}

// One 2.x credential may hold both hosts: the retry writes every token of the refresh, the one
// written already included, or the credential would look as if it held a host without a fresh token.
TEST(target_refresh, a_retry_after_a_partly_failed_write_carries_every_token_of_the_refresh) {
    target_refresh machine{{}};
    machine.start(t0);
    auto write = machine.tokens_fetched(
        {token(t0 + 12h), token(t0 + 12h, "210987654321.dkr.ecr.us-east-1.amazonaws.com")}, t0);
    auto partly = written({write.tokens.front()});
    partly.problem = make_failure(failure_kind::connect, "cannot connect to rancher:443");
    machine.finished(partly, t0 + 1s, 0.5);
    auto retry = machine.start(t0 + 3s);
    ASSERT_TRUE(std::holds_alternative<write_tokens_step>(retry));
    auto const& tokens = std::get<write_tokens_step>(retry).tokens;
    ASSERT_EQ(tokens.size(), 2u);
    EXPECT_EQ(tokens[0].registry_host, host);
    EXPECT_EQ(tokens[1].registry_host, "210987654321.dkr.ecr.us-east-1.amazonaws.com");
}

TEST(target_refresh, an_ecr_failure_keeps_nothing) {
    target_refresh machine{{}};
    machine.start(t0);
    auto failed = ecr_failed();
    machine.finished(failed, t0, 0.5);
    EXPECT_FALSE(machine.holds_kept_tokens());
    EXPECT_TRUE(std::holds_alternative<fetch_tokens_step>(machine.start(t0 + 2s)));
}

}  // namespace
}  // namespace rancher_ecr
