// The real binary, run as a user would: arguments, configuration errors, and --once against
// moto_server (signature checking on) and the Rancher stand-in.
#include <algorithm>
#include <atomic>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/aws_stand_in.hpp"
#include "support/child_process.hpp"
#include "support/loopback_server.hpp"
#include "support/rancher_stand_in.hpp"
#include "support/temporary_directory.hpp"
#include "version.hpp"

namespace rancher_ecr {
namespace {

using rancher_ecr::testing::aws_stand_in;
using rancher_ecr::testing::command_result;
using rancher_ecr::testing::environment_variables;
using rancher_ecr::testing::run_command;

command_result run_service(std::vector<std::string> arguments, environment_variables const& environment) {
    arguments.insert(arguments.begin(), SERVICE_BINARY);
    return run_command(arguments, environment);
}

bool contains(std::string const& text, std::string const& part) { return text.find(part) != std::string::npos; }

TEST(cli, help_lists_every_variable) {
    auto help = run_service({"--help"}, {});
    EXPECT_EQ(help.exit_code, 0);
    for (auto name : {"AWS_REGION", "AWS_ECR_REGISTRY_IDS", "CATTLE_URL", "CATTLE_ACCESS_KEY", "CATTLE_SECRET_KEY",
                      "AUTO_CREATE", "LOG_LEVEL", "LOG_FORMAT", "LISTEN_PORT", "LISTEN_ADDRESS", "REFRESH_INTERVAL",
                      "AWS_ENDPOINT_URL_ECR", "AWS_CA_BUNDLE"})
        EXPECT_TRUE(contains(help.output, name)) << name;
}

TEST(cli, version) {
    auto version = run_service({"--version"}, {});
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_TRUE(contains(version.output, "rancher-ecr-credentials " RANCHER_ECR_CREDENTIALS_VERSION)) << version.output;
}

TEST(cli, an_unknown_argument_exits_2_pointing_to_help) {
    auto result = run_service({"--frobnicate"}, {});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_TRUE(contains(result.output, "--frobnicate")) << result.output;
    EXPECT_TRUE(contains(result.output, "--help")) << result.output;
}

TEST(cli, a_bad_setting_exits_2_with_one_message_naming_it_and_no_secret) {
    auto result = run_service({"--once"}, {{"AWS_REGION", "us-east-1"},
                                           {"LISTEN_PORT", "80a"},
                                           {"CATTLE_ACCESS_KEY", "rancher-access-value"},
                                           {"CATTLE_SECRET_KEY", "rancher-secret-value"},
                                           {"AWS_SECRET_ACCESS_KEY", "aws-secret-value"}});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_TRUE(contains(result.output, "LISTEN_PORT")) << result.output;
    EXPECT_TRUE(contains(result.output, "80a")) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
    EXPECT_FALSE(contains(result.output, "rancher-secret-value"));
    EXPECT_FALSE(contains(result.output, "rancher-access-value"));
    EXPECT_FALSE(contains(result.output, "aws-secret-value"));
}

TEST(cli, missing_rancher_url_exits_2_saying_what_to_set) {
    auto result = run_service({"--once"}, {{"AWS_REGION", "us-east-1"}});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_TRUE(contains(result.output, "CATTLE_URL")) << result.output;
}

TEST(cli, missing_credentials_exit_2_saying_what_to_set) {
    auto result = run_service({"--once"}, {{"AWS_REGION", "us-east-1"},
                                           {"CATTLE_URL", "http://127.0.0.1:1/v1"},
                                           {"HOME", "/nonexistent"},
                                           {"AWS_EC2_METADATA_DISABLED", "true"}});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_TRUE(contains(result.output, "no AWS credentials found")) << result.output;
    EXPECT_TRUE(contains(result.output, "AWS_ACCESS_KEY_ID")) << result.output;
    EXPECT_TRUE(contains(result.output, "AWS_EC2_METADATA_DISABLED")) << result.output;
}

TEST(cli, no_region_from_anywhere_exits_2_saying_what_to_set) {
    auto result = run_service({"--once"}, {{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                           {"AWS_SECRET_ACCESS_KEY", "aws-secret-value"},
                                           {"CATTLE_URL", "http://127.0.0.1:1/v1"},
                                           {"HOME", "/nonexistent"},
                                           {"AWS_EC2_METADATA_DISABLED", "true"}});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_TRUE(contains(result.output, "AWS_REGION is not set")) << result.output;
    EXPECT_TRUE(contains(result.output, "region")) << result.output;
    EXPECT_FALSE(contains(result.output, "aws-secret-value")) << result.output;
}

// AWS's bundle and Rancher's: a bundle that holds no certificate is named by its own variable.
class cli_bad_ca_bundle : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(cli_bad_ca_bundle, exits_2_naming_the_variable_and_what_it_must_be) {
    auto const& [variable, other] = GetParam();
    rancher_ecr::testing::temporary_directory directory;
    auto bundle = directory.write("bundle.pem", "not a certificate\n");
    auto result = run_service({"--once"}, {{"AWS_REGION", "us-east-1"},
                                           {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                           {"AWS_SECRET_ACCESS_KEY", "aws-secret-value"},
                                           {variable, bundle},
                                           {"CATTLE_URL", "https://127.0.0.1:1/v1"},
                                           {"HOME", "/nonexistent"}});
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, variable + ": cannot load the CA bundle " + bundle)) << result.output;
    EXPECT_TRUE(contains(result.output, "it must be a PEM file of certificates")) << result.output;
    EXPECT_FALSE(contains(result.output, other)) << result.output;
}

INSTANTIATE_TEST_SUITE_P(aws_and_rancher, cli_bad_ca_bundle,
                         ::testing::Values(std::pair<std::string, std::string>{"AWS_CA_BUNDLE", "CATTLE_CA_BUNDLE"},
                                           std::pair<std::string, std::string>{"CATTLE_CA_BUNDLE", "AWS_CA_BUNDLE"}));

TEST(cli, a_probe_port_in_use_exits_2_naming_the_setting_to_change) {
    rancher_ecr::testing::loopback_server taken{[](auto const&) { return rancher_ecr::testing::scripted_answer{}; }};
    auto const port = std::to_string(taken.port());
    auto result = run_service({}, {{"AWS_REGION", "us-east-1"},
                                   {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                   {"AWS_SECRET_ACCESS_KEY", "aws-secret-value"},
                                   {"AWS_EC2_METADATA_DISABLED", "true"},
                                   {"CATTLE_URL", "http://127.0.0.1:1/v1"},
                                   {"LISTEN_ADDRESS", "127.0.0.1"},
                                   {"LISTEN_PORT", port},
                                   {"HOME", "/nonexistent"}});
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, "cannot listen on 127.0.0.1:" + port)) << result.output;
    EXPECT_TRUE(contains(result.output, "choose another LISTEN_PORT or LISTEN_ADDRESS")) << result.output;
}

// `healthcheck` goes by the service's status, whatever the size of its answer: with tens of
// thousands of targets /healthz is larger than the client's usual 8 MiB bound.
TEST(cli, healthcheck_exits_by_the_status_of_healthz_even_when_its_answer_is_large) {
    using rancher_ecr::testing::scripted_answer;
    std::string const large_body = R"({"status":"ok","targets":[)" + std::string(9 * 1024 * 1024, ' ') + "]}\n";
    std::atomic<int> status = 200;  // read on the server's thread
    rancher_ecr::testing::loopback_server service{[&](http_request const& request) {
        scripted_answer answer;
        int const now = status;
        answer.response.status = request.target == "/healthz" ? now : 404;
        answer.response.body = now == 200 ? large_body : R"({"status":"failing"})";
        return answer;
    }};
    environment_variables const environment{{"LISTEN_ADDRESS", "127.0.0.1"},
                                            {"LISTEN_PORT", std::to_string(service.port())}};

    auto healthy = run_service({"healthcheck"}, environment);
    EXPECT_EQ(healthy.exit_code, 0) << healthy.output.substr(0, 300);
    EXPECT_TRUE(healthy.output.starts_with(R"({"status":"ok")")) << healthy.output.substr(0, 300);
    EXPECT_GT(healthy.output.size(), 9u * 1024 * 1024);

    status = 503;
    auto failing = run_service({"healthcheck"}, environment);
    EXPECT_EQ(failing.exit_code, 1) << failing.output;
    EXPECT_TRUE(contains(failing.output, R"({"status":"failing"})")) << failing.output;
}

class cli_against_moto : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        aws_ = new aws_stand_in;
        rancher_ = new rancher_ecr::testing::rancher_stand_in;
    }
    static void TearDownTestSuite() {
        delete rancher_;
        delete aws_;
    }

    static environment_variables environment_for(aws_credentials const& credentials) {
        environment_variables environment{{"AWS_REGION", aws_->region()},
                                          {"AWS_ENDPOINT_URL_ECR", aws_->endpoint()},
                                          {"AWS_ACCESS_KEY_ID", credentials.access_key_id},
                                          {"AWS_SECRET_ACCESS_KEY", credentials.secret_access_key},
                                          {"CATTLE_URL", rancher_->url()},
                                          {"CATTLE_ACCESS_KEY", rancher_->access_key()},
                                          {"CATTLE_SECRET_KEY", rancher_->secret_key()},
                                          {"AUTO_CREATE", "true"},
                                          {"LOG_LEVEL", "trace"}};
        if (!credentials.session_token.empty()) environment["AWS_SESSION_TOKEN"] = credentials.session_token;
        return environment;
    }

    static void expect_no_secret(std::string const& output, aws_credentials const& credentials) {
        EXPECT_FALSE(contains(output, credentials.secret_access_key)) << output;
        EXPECT_FALSE(contains(output, credentials.access_key_id)) << output;
        if (!credentials.session_token.empty()) {
            EXPECT_FALSE(contains(output, credentials.session_token)) << output;
        }
        EXPECT_FALSE(contains(output, aws_->account_id() + "-auth-token")) << output;  // moto's ECR password
        EXPECT_FALSE(contains(output, "QVdTOj")) << output;  // base64 of "AWS:", the start of every token
        EXPECT_FALSE(contains(output, rancher_->secret_key())) << output;
    }

    static aws_stand_in* aws_;
    static rancher_ecr::testing::rancher_stand_in* rancher_;
};

aws_stand_in* cli_against_moto::aws_ = nullptr;
rancher_ecr::testing::rancher_stand_in* cli_against_moto::rancher_ = nullptr;

TEST_F(cli_against_moto, once_writes_the_token_and_logs_no_secret_at_trace) {
    auto result = run_service({"--once"}, environment_for(aws_->user()));
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_TRUE(contains(result.output, "registry " + aws_->account_id() + ".dkr.ecr.")) << result.output;
    EXPECT_TRUE(contains(result.output, "credential written")) << result.output;
    EXPECT_TRUE(contains(result.output, "expires at 2015-01-01T00:00:00.000Z")) << result.output;
    expect_no_secret(result.output, aws_->user());
}

TEST_F(cli_against_moto, once_with_session_credentials_and_two_registries) {
    auto environment = environment_for(aws_->session());
    environment["AWS_ECR_REGISTRY_IDS"] = "111111111111, 222222222222";
    auto result = run_service({"--once"}, environment);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_TRUE(contains(result.output, "registry 111111111111.dkr.ecr.")) << result.output;
    EXPECT_TRUE(contains(result.output, "registry 222222222222.dkr.ecr.")) << result.output;
    expect_no_secret(result.output, aws_->session());
}

TEST_F(cli_against_moto, once_with_a_wrong_secret_exits_1_with_a_clear_error) {
    auto wrong = aws_->user();
    wrong.secret_access_key = "wrong-secret-" + wrong.secret_access_key;
    auto result = run_service({"--once"}, environment_for(wrong));
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_TRUE(contains(result.output, "SignatureDoesNotMatch")) << result.output;
    EXPECT_TRUE(contains(result.output, "the operator must act")) << result.output;
    expect_no_secret(result.output, wrong);
}

TEST_F(cli_against_moto, json_logs_are_one_object_per_line) {
    auto environment = environment_for(aws_->user());
    environment["LOG_FORMAT"] = "json";
    auto result = run_service({"--once"}, environment);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    std::istringstream lines{result.output};
    int objects = 0;
    for (std::string line; std::getline(lines, line);) {
        boost::system::error_code ec;
        auto parsed = boost::json::parse(line, ec);
        ASSERT_FALSE(ec) << line;
        EXPECT_TRUE(parsed.as_object().contains("message")) << line;
        ++objects;
    }
    EXPECT_GE(objects, 2);
}

}  // namespace
}  // namespace rancher_ecr
