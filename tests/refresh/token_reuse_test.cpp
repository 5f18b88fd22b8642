#include "refresh/token_reuse.hpp"

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

system_clock::time_point const received = system_clock::time_point{std::chrono::seconds{1'800'000'000}};

ecr_authorization token(system_clock::time_point expires_at) {
    return ecr_authorization{"123456789012.dkr.ecr.us-east-1.amazonaws.com", "AWS", "a-password", expires_at};
}

kept_tokens kept(std::vector<ecr_authorization> tokens) { return kept_tokens{std::move(tokens), received}; }

TEST(next_token_source, asks_ecr_when_nothing_is_kept) {
    EXPECT_EQ(next_token_source(std::nullopt, received, {}), token_source::ecr);
    EXPECT_EQ(next_token_source(kept({}), received, {}), token_source::ecr);
}

TEST(next_token_source, keeps_a_token_while_more_than_half_of_its_life_remains) {
    auto const tokens = kept({token(received + 12h)});
    EXPECT_EQ(next_token_source(tokens, received, {}), token_source::kept);
    EXPECT_EQ(next_token_source(tokens, received + 2s, {}), token_source::kept);
    EXPECT_EQ(next_token_source(tokens, received + 6h - 1s, {}), token_source::kept);
    EXPECT_EQ(next_token_source(tokens, received + 6h, {}), token_source::ecr);
    EXPECT_EQ(next_token_source(tokens, received + 11h, {}), token_source::ecr);
    EXPECT_EQ(next_token_source(tokens, received + 13h, {}), token_source::ecr);
}

// moto's tokens claim to expire in 2015: the schedule assumes ECR's 12 hours instead, and so does this.
TEST(next_token_source, an_expiry_in_the_past_counts_as_the_documented_lifetime) {
    auto const tokens = kept({token(system_clock::time_point{std::chrono::seconds{1'420'070'400}})});
    EXPECT_EQ(next_token_source(tokens, received + 5min, {}), token_source::kept);
    EXPECT_EQ(next_token_source(tokens, received + 5h, {}), token_source::kept);
    EXPECT_EQ(next_token_source(tokens, received + 7h, {}), token_source::ecr);
    schedule_policy short_lived;
    short_lived.assumed_lifetime = 1h;
    EXPECT_EQ(next_token_source(tokens, received + 31min, short_lived), token_source::ecr);
}

TEST(next_token_source, the_shortest_lived_of_several_tokens_decides) {
    auto const tokens = kept({token(received + 12h), token(received + 1h)});
    EXPECT_EQ(next_token_source(tokens, received + 29min, {}), token_source::kept);
    EXPECT_EQ(next_token_source(tokens, received + 31min, {}), token_source::ecr);
}

// A clock that went back leaves the tokens' age unknown: ask again rather than trust them.
TEST(next_token_source, asks_ecr_when_the_clock_went_back) {
    auto const tokens = kept({token(received + 12h)});
    EXPECT_EQ(next_token_source(tokens, received - 1s, {}), token_source::ecr);
}

}  // namespace
}  // namespace rancher_ecr
