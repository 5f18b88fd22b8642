#include "aws/shared_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using variables = std::map<std::string, std::string, std::less<>>;

TEST(parse_ini, sections_keys_and_spacing) {
    auto sections = parse_ini(
        "[default]\n"
        "aws_access_key_id=AKIDEXAMPLE\n"
        "  \n"
        "aws_secret_access_key =   secret/with+slash= \n"
        "\tREGION\t=\teu-west-1\r\n"
        "[ profile dev ]\n"
        "role_arn = arn:aws:iam::123456789012:role/dev\n");
    ASSERT_EQ(sections.size(), 2u);
    auto const& defaults = sections.at("default");
    EXPECT_EQ(defaults.at("aws_access_key_id"), "AKIDEXAMPLE");
    // Only the first '=' splits: base64 secrets end in '='.
    EXPECT_EQ(defaults.at("aws_secret_access_key"), "secret/with+slash=");
    EXPECT_EQ(sections.at("profile dev").at("role_arn"), "arn:aws:iam::123456789012:role/dev");
}

TEST(parse_ini, indented_key_lines_are_continuations) {
    // "\tREGION = x" above is a continuation too; a key must start its line.
    auto sections = parse_ini("[default]\nregion = us-east-1\n  nested = ignored\n");
    EXPECT_EQ(sections.at("default").size(), 1u);
    sections = parse_ini("[default]\nREGION = us-east-1\n");
    EXPECT_EQ(sections.at("default").at("region"), "us-east-1");  // names are case-insensitive
}

TEST(parse_ini, comments) {
    auto sections = parse_ini(
        "# a comment\n"
        "; another\n"
        "[default] # after a header\n"
        "region = us-west-2 # trailing comment\n"
        "output = json;not a comment\n"
        "role_arn = arn:aws:iam::1:role/x ; trailing\n"
        "  # indented comment\n"
        "#aws_access_key_id = commented out\n");
    auto const& keys = sections.at("default");
    EXPECT_EQ(keys.at("region"), "us-west-2");
    EXPECT_EQ(keys.at("output"), "json;not a comment");
    EXPECT_EQ(keys.at("role_arn"), "arn:aws:iam::1:role/x");
    EXPECT_FALSE(keys.contains("aws_access_key_id"));
}

TEST(parse_ini, nested_settings_are_skipped) {
    auto sections = parse_ini(
        "[profile dev]\n"
        "s3 =\n"
        "  max_concurrent_requests = 10\n"
        "  aws_access_key_id = not-a-profile-key\n"
        "region = eu-central-1\n");
    auto const& keys = sections.at("profile dev");
    EXPECT_EQ(keys.at("s3"), "");
    EXPECT_FALSE(keys.contains("aws_access_key_id"));
    EXPECT_FALSE(keys.contains("max_concurrent_requests"));
    EXPECT_EQ(keys.at("region"), "eu-central-1");
}

TEST(parse_ini, malformed_lines_and_repeated_sections) {
    auto sections = parse_ini(
        "orphan = before any section\n"
        "[broken\n"
        "lost = key\n"
        "[default]\n"
        "no equals sign here\n"
        " = no name\n"
        "region = us-east-1\n"
        "[default]\n"
        "region = us-east-2\n"
        "output = text\n");
    ASSERT_EQ(sections.size(), 1u);
    auto const& keys = sections.at("default");
    EXPECT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys.at("region"), "us-east-2");  // the later one wins
    EXPECT_EQ(keys.at("output"), "text");
    EXPECT_TRUE(parse_ini("").empty());
    EXPECT_TRUE(parse_ini("[x]").at("x").empty());
}

TEST(merge_profiles, profile_prefix_in_config_and_bare_names_in_credentials) {
    auto config = parse_ini(
        "[default]\nregion = us-east-1\n"
        "[profile dev]\nregion = eu-west-1\nrole_arn = arn:aws:iam::1:role/dev\n"
        "[bare]\nregion = ap-south-1\n"  // not a profile in the config file
        "[sso-session corp]\nsso_region = us-east-1\n"
        "[profile   spaced  ]\nregion = us-west-1\n");
    auto credentials = parse_ini(
        "[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n"
        "[dev]\nregion = eu-west-2\n"
        "[profile odd]\naws_access_key_id = X\n");  // literally named "profile odd" here
    auto profiles = merge_profiles(config, credentials);
    EXPECT_EQ(profiles.at("default").at("region"), "us-east-1");
    EXPECT_EQ(profiles.at("default").at("aws_access_key_id"), "AKID");
    EXPECT_EQ(profiles.at("dev").at("region"), "eu-west-2");  // the credentials file wins
    EXPECT_EQ(profiles.at("dev").at("role_arn"), "arn:aws:iam::1:role/dev");
    EXPECT_FALSE(profiles.contains("bare"));
    EXPECT_FALSE(profiles.contains("corp"));
    EXPECT_FALSE(profiles.contains("sso-session corp"));
    EXPECT_EQ(profiles.at("spaced").at("region"), "us-west-1");
    EXPECT_TRUE(profiles.contains("profile odd"));
}

// A directory with a config and a credentials file, removed at the end of the test.
class shared_files_test : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (std::filesystem::temp_directory_path() / "shared_config_test_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        home_ = pattern;
        std::filesystem::create_directories(home_ / ".aws");
    }
    void TearDown() override { std::filesystem::remove_all(home_); }

    void write(std::filesystem::path const& path, std::string const& text) { std::ofstream{path} << text; }

    std::filesystem::path home_;
};

TEST_F(shared_files_test, default_paths_under_home_and_profile_selection) {
    write(home_ / ".aws" / "config", "[profile dev]\nregion = eu-west-1\n[default]\nregion = us-east-2\n");
    write(home_ / ".aws" / "credentials", "[dev]\naws_access_key_id = AKID\naws_secret_access_key = S\n");

    auto loaded = load_shared_profiles(environment_from({{"HOME", home_.string()}}));
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->config_file, (home_ / ".aws" / "config").string());
    EXPECT_EQ(loaded->credentials_file, (home_ / ".aws" / "credentials").string());
    EXPECT_EQ(loaded->selected, "default");
    EXPECT_FALSE(loaded->selected_explicitly);
    EXPECT_EQ(loaded->region(), "us-east-2");

    loaded = load_shared_profiles(environment_from({{"HOME", home_.string()}, {"AWS_PROFILE", "dev"}}));
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->selected, "dev");
    EXPECT_TRUE(loaded->selected_explicitly);
    EXPECT_EQ(loaded->region(), "eu-west-1");
    EXPECT_EQ(loaded->find("dev")->at("aws_access_key_id"), "AKID");

    // botocore's order: AWS_DEFAULT_PROFILE before AWS_PROFILE; empty counts as unset.
    loaded = load_shared_profiles(environment_from(
        {{"HOME", home_.string()}, {"AWS_PROFILE", "dev"}, {"AWS_DEFAULT_PROFILE", "other"}}));
    EXPECT_EQ(loaded->selected, "other");
    loaded = load_shared_profiles(environment_from(
        {{"HOME", home_.string()}, {"AWS_PROFILE", "dev"}, {"AWS_DEFAULT_PROFILE", ""}}));
    EXPECT_EQ(loaded->selected, "dev");
}

TEST_F(shared_files_test, explicit_paths_tilde_and_missing_files) {
    write(home_ / "my-config", "[default]\nregion = ca-central-1\n");
    auto loaded = load_shared_profiles(environment_from({{"HOME", home_.string()},
                                                         {"AWS_CONFIG_FILE", "~/my-config"},
                                                         {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"}}));
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->config_file, (home_ / "my-config").string());
    EXPECT_EQ(loaded->region(), "ca-central-1");
    EXPECT_EQ(loaded->profiles.size(), 1u);

    // No HOME and no variables: nothing to read, which is not an error.
    loaded = load_shared_profiles(environment_from({}));
    ASSERT_TRUE(loaded);
    EXPECT_TRUE(loaded->profiles.empty());
    EXPECT_EQ(loaded->config_file, "");
    EXPECT_NE(loaded->where().find("no HOME"), std::string::npos);
}

TEST_F(shared_files_test, a_directory_instead_of_a_file_is_a_config_failure) {
    auto loaded = load_shared_profiles(environment_from({{"AWS_CONFIG_FILE", home_.string()}}));
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().kind, failure_kind::config);
    EXPECT_NE(loaded.error().message.find("AWS_CONFIG_FILE"), std::string::npos) << loaded.error().message;
}

}  // namespace
}  // namespace rancher_ecr
