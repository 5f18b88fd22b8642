#include "app/targets_file.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using ::testing::HasSubstr;

class targets_file_test : public ::testing::Test {
protected:
    void SetUp() override {
        secret_file_ = ::testing::TempDir() + "targets_file_test_secret";
        std::ofstream{secret_file_} << "s3cr3t-from-file\n";
        process_.region = "eu-west-1";
    }
    void TearDown() override { std::remove(secret_file_.c_str()); }

    result<std::vector<target_settings>> parse(std::string const& text) {
        return parse_targets(text, "targets.yaml", process_, environment_from(variables_));
    }
    // The message of a file that must be refused.
    std::string refusal(std::string const& text) {
        auto parsed = parse(text);
        EXPECT_FALSE(parsed.has_value()) << text;
        return parsed ? std::string{} : parsed.error().message;
    }
    std::string one_target(std::string const& rancher, std::string const& ecr = "{}") {
        return "targets:\n  - name: prod\n    rancher: " + rancher + "\n    ecr: " + ecr + "\n";
    }

    std::string secret_file_;
    service_config process_;
    std::map<std::string, std::string, std::less<>> variables_{{"TEAM_A_SECRET", "s3cr3t-from-env"}};
};

TEST_F(targets_file_test, reads_every_key_with_defaults_and_the_process_fallbacks) {
    std::ofstream{::testing::TempDir() + "targets_file_test_ca.pem"} << "-----BEGIN CERTIFICATE-----\n";
    auto parsed = parse(R"(
defaults:
  ecr: {region: us-west-2}
  rancher: {auto_create: true}
targets:
  - name: prod
    rancher:
      url: "https://rancher1.example.com/v2-beta"
      access_key: ABC
      secret_key_file: )" + secret_file_ + R"(
      environments: all
    ecr: {registry_ids: ["123456789012"]}
  - name: team-a
    rancher: {url: "https://rancher2.example.com/v3", access_key: token-abc12, secret_key_env: TEAM_A_SECRET,
              project: local/Default, namespaces: [apps, jobs], credential_name: ecr-pull, auto_create: no,
              ca_bundle: )" + ::testing::TempDir() + R"(targets_file_test_ca.pem}
    ecr: {region: us-east-1, registry_ids: ["123456789012", "210987654321"],
          role_arn: "arn:aws:iam::210987654321:role/ecr-read", endpoint_url: "http://127.0.0.1:5000"}
  - name: team-b
    rancher: {url: "https://rancher2.example.com/v3", access_key: k, secret_key_env: TEAM_A_SECRET,
              projects: [Default, "c-x:p-y"]}
    ecr: {profile: other}
)");
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 3u);
    auto const& prod = (*parsed)[0];
    EXPECT_EQ(prod.name, "prod");
    EXPECT_EQ(prod.rancher_api, rancher_generation::cattle);
    EXPECT_EQ(prod.rancher_url.text(), "https://rancher1.example.com/v2-beta");
    EXPECT_EQ(prod.access_key, "ABC");
    EXPECT_EQ(prod.secret_key.file, secret_file_);
    EXPECT_TRUE(prod.expansion.all);
    EXPECT_TRUE(prod.auto_create);        // from defaults
    EXPECT_EQ(prod.region, "us-west-2");  // from defaults
    EXPECT_EQ(prod.registry_ids, std::vector<std::string>{"123456789012"});
    auto const& team_a = (*parsed)[1];
    EXPECT_EQ(team_a.rancher_api, rancher_generation::norman);
    EXPECT_EQ(team_a.project, "local/Default");
    EXPECT_EQ(team_a.namespaces, (std::vector<std::string>{"apps", "jobs"}));
    EXPECT_EQ(team_a.credential_name, "ecr-pull");
    EXPECT_FALSE(team_a.auto_create);  // its own wins over the defaults
    EXPECT_EQ(team_a.secret_key.variable, "TEAM_A_SECRET");
    EXPECT_EQ(team_a.region, "us-east-1");
    EXPECT_EQ(team_a.role_arn, "arn:aws:iam::210987654321:role/ecr-read");
    ASSERT_TRUE(team_a.ecr_endpoint.has_value());
    EXPECT_EQ(team_a.ecr_endpoint->port, 5000);
    ASSERT_TRUE(team_a.rancher_ca_bundle.has_value());
    auto const& team_b = (*parsed)[2];
    EXPECT_FALSE(team_b.expansion.all);
    EXPECT_EQ(team_b.expansion.names, (std::vector<std::string>{"Default", "c-x:p-y"}));
    EXPECT_EQ(team_b.profile, "other");
    EXPECT_TRUE(team_b.registry_ids.empty());  // the caller's own registry
}

TEST_F(targets_file_test, the_process_gives_what_neither_the_target_nor_the_defaults_give) {
    process_.auto_create = true;
    auto parsed = parse(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET}"));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->at(0).region, "eu-west-1");
    EXPECT_TRUE(parsed->at(0).auto_create);
}

TEST_F(targets_file_test, secrets_are_read_by_file_with_its_newline_trimmed_and_by_variable) {
    secret_key_source by_file{{}, secret_file_, {}};
    EXPECT_EQ(read_secret_key(by_file, environment_from({})).value(), "s3cr3t-from-file");
    secret_key_source by_variable{{}, {}, "TEAM_A_SECRET"};
    EXPECT_EQ(read_secret_key(by_variable, environment_from(variables_)).value(), "s3cr3t-from-env");
    auto missing = read_secret_key(secret_key_source{{}, "/nonexistent/secret", {}}, environment_from({}));
    ASSERT_FALSE(missing.has_value());
    EXPECT_THAT(missing.error().message, HasSubstr("/nonexistent/secret cannot be read"));
    auto unset = read_secret_key(by_variable, environment_from({}));
    ASSERT_FALSE(unset.has_value());
    EXPECT_THAT(unset.error().message, HasSubstr("TEAM_A_SECRET, which is not set"));
    // Missing at start: the file is refused, naming where.
    auto message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: NOT_SET}"));
    EXPECT_THAT(message, HasSubstr("targets.yaml:3:"));
    EXPECT_THAT(message, HasSubstr("secret_key_env"));
    EXPECT_THAT(message, HasSubstr("NOT_SET, which is not set"));
}

TEST_F(targets_file_test, a_bad_value_names_the_line_column_key_and_what_is_accepted) {
    auto message = refusal("targets:\n  - name: prod\n    rancher: {url: 'http://r:8080/v2-beta', access_key: a, "
                           "secret_key_env: TEAM_A_SECRET}\n    ecr: {region: Mars-1}\n");
    EXPECT_THAT(message, HasSubstr("targets.yaml:4:19: targets[0].ecr.region: \"Mars-1\" is not accepted; expected "
                                   "an AWS region name"));
    message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET}",
                                 "{registry_ids: [12345]}"));
    EXPECT_THAT(message, HasSubstr("targets.yaml:4:")) << message;
    EXPECT_THAT(message, HasSubstr("registry_ids: \"12345\" is not accepted; expected 12-digit AWS account ids"));
    message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET, "
                                 "auto_create: maybe}"));
    EXPECT_THAT(message, HasSubstr("auto_create: \"maybe\" is not accepted; expected true or false"));
    message = refusal(one_target("{url: 'ftp://r', access_key: a, secret_key_env: TEAM_A_SECRET}"));
    EXPECT_THAT(message, HasSubstr("targets[0].rancher.url"));
    message = refusal(one_target("{url: 'http://user:pw@r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET}"));
    EXPECT_THAT(message, HasSubstr("carries user info"));
    EXPECT_THAT(message, ::testing::Not(HasSubstr("pw")));
}

TEST_F(targets_file_test, a_control_character_or_a_bad_variable_name_is_refused_and_shown_printable) {
    auto message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: \"TEAM\\tA\"}"));
    EXPECT_THAT(message, HasSubstr("targets[0].rancher.secret_key_env: \"TEAM?A\" holds a control character"));
    EXPECT_EQ(message.find('\t'), std::string::npos) << message;
    message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: 1-SECRET}"));
    EXPECT_THAT(message, HasSubstr("secret_key_env: \"1-SECRET\" is not accepted; expected a variable name"));
    message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_file: \"/run/x\\ny\"}"));
    EXPECT_THAT(message, HasSubstr("secret_key_file: \"/run/x?y\" holds a control character"));
    message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET, "
                                 "environments: [\"prod\\u0007\"]}"));
    EXPECT_THAT(message, HasSubstr("environments: \"prod?\" is not accepted"));
}

TEST_F(targets_file_test, an_unknown_key_is_an_error_and_a_plain_secret_is_refused) {
    auto message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: X, colour: red}"));
    EXPECT_THAT(message, HasSubstr("targets.yaml:3:"));
    EXPECT_THAT(message, HasSubstr("targets[0].rancher.colour: unknown key; accepted here: url, access_key"));
    message = refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key: hunter2}"));
    EXPECT_THAT(message, HasSubstr("a secret never sits in the file"));
    EXPECT_THAT(message, ::testing::Not(HasSubstr("hunter2")));
    message = refusal("target:\n  - name: x\n");
    EXPECT_THAT(message, HasSubstr("targets.yaml:1:1: target: unknown key; accepted here: defaults, targets"));
}

TEST_F(targets_file_test, a_duplicate_name_points_at_its_second_occurrence) {
    std::string rancher = "{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET}";
    auto message = refusal("targets:\n  - name: prod\n    rancher: " + rancher + "\n  - name: prod\n    rancher: " +
                           rancher + "\n");
    EXPECT_THAT(message, HasSubstr("targets.yaml:4:11: targets[1].name: \"prod\" is already the name of the target at "
                                   "line 2"));
}

TEST_F(targets_file_test, invalid_yaml_and_wrong_shapes_are_located) {
    EXPECT_THAT(refusal("targets: [\n  - name: x\n"), HasSubstr("targets.yaml:"));
    EXPECT_THAT(refusal("targets: [\n"), HasSubstr("not valid YAML"));
    EXPECT_THAT(refusal(""), HasSubstr("the file is empty"));
    EXPECT_THAT(refusal("targets: []\n"), HasSubstr("targets: is an empty list"));
    EXPECT_THAT(refusal("targets:\n  - rancher: {}\n"), HasSubstr("targets[0].name: is missing"));
    EXPECT_THAT(refusal("targets:\n  - name: a/b\n"), HasSubstr("no '/'"));
    EXPECT_THAT(refusal("targets:\n  - name: x\n"), HasSubstr("targets[0] (x).rancher.url: is missing"));
}

TEST_F(targets_file_test, keys_of_the_other_rancher_generation_are_refused) {
    EXPECT_THAT(refusal(one_target("{url: 'https://r/v3', access_key: a, secret_key_env: TEAM_A_SECRET, "
                                   "environments: all}")),
                HasSubstr("environments: is for Rancher 1.x"));
    EXPECT_THAT(refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET, "
                                   "projects: all}")),
                HasSubstr("projects: is for Rancher 2.x"));
    EXPECT_THAT(refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET, "
                                   "project: Default}")),
                HasSubstr("project: is for Rancher 2.x"));
    EXPECT_THAT(refusal(one_target("{url: 'https://r/v3', access_key: a, secret_key_env: TEAM_A_SECRET}")),
                HasSubstr("project: is missing"));
    EXPECT_THAT(refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET, "
                                   "namespaces: [apps]}")),
                HasSubstr("namespaces: is for Rancher 2.x"));
    EXPECT_THAT(refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET, "
                                   "secret_key_file: /x}")),
                HasSubstr("give one of them"));
    EXPECT_THAT(refusal(one_target("{url: 'http://r:8080/v2-beta', access_key: a, secret_key_env: TEAM_A_SECRET}",
                                   "{profile: p, role_arn: 'arn:aws:iam::1:role/r'}")),
                HasSubstr("role_arn: is given with profile"));
}

// The commented examples in container/ parse, with their secret files and CA bundle made here.
TEST_F(targets_file_test, read_targets_file_names_a_file_it_cannot_read) {
    auto read = read_targets_file("/nonexistent/targets.yaml", process_, environment_from({}));
    ASSERT_FALSE(read.has_value());
    EXPECT_THAT(read.error().message, HasSubstr("/nonexistent/targets.yaml cannot be read"));
}

}  // namespace
}  // namespace rancher_ecr
