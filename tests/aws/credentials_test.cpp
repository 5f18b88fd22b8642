#include "aws/credentials.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using variables = std::map<std::string, std::string, std::less<>>;

constexpr char const* access_key_id = "AKIAIOSFODNN7EXAMPLE";
constexpr char const* secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

result<std::optional<aws_credentials>> from(variables vars) {
    return credentials_from_environment(environment_from(std::move(vars)));
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

TEST(credentials_from_environment, long_term_keys) {
    auto credentials = from({{"AWS_ACCESS_KEY_ID", access_key_id}, {"AWS_SECRET_ACCESS_KEY", secret_access_key}});
    ASSERT_TRUE(credentials) << credentials.error().message;
    ASSERT_TRUE(*credentials);
    EXPECT_EQ((*credentials)->access_key_id, access_key_id);
    EXPECT_EQ((*credentials)->secret_access_key, secret_access_key);
    EXPECT_EQ((*credentials)->session_token, "");
    EXPECT_FALSE((*credentials)->expiration);
    EXPECT_EQ((*credentials)->source, "environment");
}

TEST(credentials_from_environment, none_set_is_not_an_error) {
    for (auto const& vars : {variables{}, variables{{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}},
             variables{{"AWS_SESSION_TOKEN", "token"}}}) {
        auto credentials = from(vars);
        ASSERT_TRUE(credentials) << credentials.error().message;
        EXPECT_FALSE(*credentials);
    }
}

TEST(credentials_from_environment, session_token) {
    auto credentials = from({{"AWS_ACCESS_KEY_ID", access_key_id}, {"AWS_SECRET_ACCESS_KEY", secret_access_key},
        {"AWS_SESSION_TOKEN", "session"}});
    ASSERT_TRUE(credentials && *credentials);
    EXPECT_EQ((*credentials)->session_token, "session");

    credentials = from({{"AWS_ACCESS_KEY_ID", access_key_id}, {"AWS_SECRET_ACCESS_KEY", secret_access_key},
        {"AWS_SECURITY_TOKEN", "security"}});
    ASSERT_TRUE(credentials && *credentials);
    EXPECT_EQ((*credentials)->session_token, "security");
}

TEST(credentials_from_environment, aws_security_token_wins_over_aws_session_token) {
    auto credentials = from({{"AWS_ACCESS_KEY_ID", access_key_id}, {"AWS_SECRET_ACCESS_KEY", secret_access_key},
        {"AWS_SESSION_TOKEN", "session"}, {"AWS_SECURITY_TOKEN", "security"}});
    ASSERT_TRUE(credentials && *credentials);
    EXPECT_EQ((*credentials)->session_token, "security");

    // An empty AWS_SECURITY_TOKEN counts as unset.
    credentials = from({{"AWS_ACCESS_KEY_ID", access_key_id}, {"AWS_SECRET_ACCESS_KEY", secret_access_key},
        {"AWS_SESSION_TOKEN", "session"}, {"AWS_SECURITY_TOKEN", ""}});
    ASSERT_TRUE(credentials && *credentials);
    EXPECT_EQ((*credentials)->session_token, "session");
}

TEST(credentials_from_environment, one_key_without_the_other_names_the_missing_one) {
    auto credentials = from({{"AWS_ACCESS_KEY_ID", access_key_id}});
    ASSERT_FALSE(credentials);
    EXPECT_EQ(credentials.error().kind, failure_kind::config);
    auto message = credentials.error().message;
    EXPECT_TRUE(contains(message, "AWS_SECRET_ACCESS_KEY is not set")) << message;

    credentials = from({{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", secret_access_key}});
    ASSERT_FALSE(credentials);
    EXPECT_EQ(credentials.error().kind, failure_kind::config);
    message = credentials.error().message;
    EXPECT_TRUE(contains(message, "AWS_ACCESS_KEY_ID is not set")) << message;
}

TEST(credentials_from_environment, no_message_contains_a_secret) {
    variables const tokens{
        {"AWS_SESSION_TOKEN", "session-token-FwoGZXIvYXdz"},
        {"AWS_SECURITY_TOKEN", "security-token-IQoJb3"},
    };
    for (auto const& [name, value] : variables{{"AWS_ACCESS_KEY_ID", access_key_id},
             {"AWS_SECRET_ACCESS_KEY", secret_access_key}}) {
        variables vars = tokens;
        vars.emplace(name, value);
        auto credentials = from(vars);
        ASSERT_FALSE(credentials) << name;
        auto const& message = credentials.error().message;
        EXPECT_FALSE(contains(message, value)) << message;
        for (auto const& [token_name, token] : tokens) EXPECT_FALSE(contains(message, token)) << message;
    }
}

}  // namespace
}  // namespace rancher_ecr
