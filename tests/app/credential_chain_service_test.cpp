// Every provider of the AWS credential chain through the real binary: the credentials come from
// STS (moto), a profile, a container endpoint or instance metadata (moto), and the ECR call
// signed with them must pass moto's signature check and end in the Rancher credential.
#include <csignal>
#include <functional>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "obs/logging.hpp"
#include "support/aws_stand_in.hpp"
#include "support/child_process.hpp"
#include "support/ecr_recorder.hpp"
#include "support/end_to_end_test.hpp"
#include "support/eventually.hpp"
#include "support/loopback_server.hpp"
#include "support/rancher_stand_in.hpp"
#include "support/temporary_directory.hpp"

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using rancher_ecr::testing::aws_stand_in;
using rancher_ecr::testing::child_process;
using rancher_ecr::testing::command_result;
using rancher_ecr::testing::contains;
using rancher_ecr::testing::ecr_recorder;
using rancher_ecr::testing::environment_variables;
using rancher_ecr::testing::loopback_server;
using rancher_ecr::testing::rancher_stand_in;
using rancher_ecr::testing::scripted_answer;
using rancher_ecr::testing::temporary_directory;

// The refreshes here go through retries and stand-ins: a longer default deadline.
bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds deadline = 30s) {
    return rancher_ecr::testing::eventually(condition, deadline);
}

scripted_answer respond(int status, std::string body) {
    return {scripted_answer::action::respond, http_response{status, {{"Content-Type", "application/json"}}, std::move(body)},
            {}};
}

// The JSON a container credentials endpoint answers with.
std::string container_answer(aws_credentials const& credentials, std::chrono::system_clock::time_point expiration) {
    return R"({"AccessKeyId":")" + credentials.access_key_id + R"(","SecretAccessKey":")" +
           credentials.secret_access_key + R"(","Token":")" + credentials.session_token + R"(","Expiration":")" +
           format_utc(expiration) + R"("})";
}

// A container credentials endpoint on loopback: each request gets the next of `answers` (the last
// one again when they run out); requests without `required_token` in Authorization get 401.
class container_endpoint_stand_in {
public:
    using answer_maker = std::function<scripted_answer()>;

    explicit container_endpoint_stand_in(std::vector<answer_maker> answers, std::string required_token = {})
        : answers_{std::move(answers)},
          server_{[this, required_token](http_request const& request) {
              if (!required_token.empty() && request.header("authorization") != required_token)
                  return respond(401, R"({"Code":"Unauthorized","Message":"wrong token"})");
              std::lock_guard lock{mutex_};
              auto const index = std::min(served_++, answers_.size() - 1);
              return answers_[index]();
          }} {}

    std::string uri() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/v2/credentials/task"; }
    std::size_t requests() const { return server_.requests().size(); }

private:
    std::mutex mutex_;
    std::vector<answer_maker> answers_;
    std::size_t served_ = 0;
    loopback_server server_;
};

class credential_chain_service_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        aws_ = new aws_stand_in{{"--public-web-identity"}};
        open_aws_ = new aws_stand_in{{"--no-auth"}};
        rancher_ = new rancher_stand_in;
    }
    static void TearDownTestSuite() {
        delete rancher_;
        delete open_aws_;
        delete aws_;
    }
    void SetUp() override { rancher_->reset(); }

    // No credentials from anywhere but what a test adds: HOME is an empty directory and instance
    // metadata is off, so the machine's own ~/.aws or cloud never leak in.
    environment_variables base_environment(aws_stand_in const& aws) const {
        return {{"AWS_REGION", aws.region()},
                {"AWS_ENDPOINT_URL_ECR", aws.endpoint()},
                {"AWS_ENDPOINT_URL_STS", aws.endpoint()},
                {"AWS_EC2_METADATA_DISABLED", "true"},
                {"HOME", home_.path().string()},
                {"CATTLE_URL", rancher_->url()},
                {"CATTLE_ACCESS_KEY", rancher_->access_key()},
                {"CATTLE_SECRET_KEY", rancher_->secret_key()},
                {"AUTO_CREATE", "true"},
                {"LOG_LEVEL", "trace"}};
    }
    environment_variables base_environment() const { return base_environment(*aws_); }

    static command_result run_once(environment_variables const& environment) {
        return rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, environment, 60s);
    }

    // The password written into Rancher for `aws`'s registry, or "" when none was.
    std::string written_password(aws_stand_in const& aws) const {
        auto const host = aws.account_id() + ".dkr.ecr." + aws.region() + ".amazonaws.com";
        for (auto const& registry : rancher_->registries()) {
            if (registry.at("serverAddress").as_string() != host) continue;
            for (auto const& credential : rancher_->credentials_of(std::string{registry.at("id").as_string()})) {
                if (credential.at("secretValue").is_string()) return std::string{credential.at("secretValue").as_string()};
            }
        }
        return {};
    }

    // Exit 0, the provider named in the log, the token in Rancher, and no secret in the log.
    void expect_written_with(command_result const& result, std::string const& provider, aws_stand_in const& aws,
                             std::vector<std::string> const& secrets = {}) const {
        EXPECT_EQ(result.exit_code, 0) << result.output;
        EXPECT_TRUE(contains(result.output, "AWS credentials from " + provider)) << result.output;
        EXPECT_EQ(written_password(aws), aws.account_id() + "-auth-token") << result.output;
        for (auto const& secret : secrets) {
            if (!secret.empty()) {
                EXPECT_FALSE(contains(result.output, secret)) << "a secret leaked:\n" << result.output;
            }
        }
        EXPECT_FALSE(contains(result.output, aws.account_id() + "-auth-token")) << result.output;
    }

    static aws_stand_in* aws_;       // signature checking on; AssumeRoleWithWebIdentity taken unsigned
    static aws_stand_in* open_aws_;  // no signature checking: its instance metadata's keys are moto's fixed ones
    static rancher_stand_in* rancher_;
    temporary_directory home_;
    temporary_directory files_;
};

aws_stand_in* credential_chain_service_test::aws_ = nullptr;
aws_stand_in* credential_chain_service_test::open_aws_ = nullptr;
rancher_stand_in* credential_chain_service_test::rancher_ = nullptr;

TEST_F(credential_chain_service_test, web_identity_through_sts) {
    auto environment = base_environment();
    environment["AWS_WEB_IDENTITY_TOKEN_FILE"] = files_.write("token", "eyJ-web-identity-token-value\n");
    environment["AWS_ROLE_ARN"] = aws_->role_arn();
    environment["AWS_ROLE_SESSION_NAME"] = "ecr-sync";
    auto result = run_once(environment);
    expect_written_with(result, "web identity (role " + aws_->role_arn() + ")", *aws_,
                        {"eyJ-web-identity-token-value"});
}

TEST_F(credential_chain_service_test, role_arn_is_assumed_with_the_environment_keys) {
    auto environment = base_environment();
    environment["AWS_ACCESS_KEY_ID"] = aws_->user().access_key_id;
    environment["AWS_SECRET_ACCESS_KEY"] = aws_->user().secret_access_key;
    environment["AWS_ROLE_ARN"] = aws_->role_arn();
    auto result = run_once(environment);
    expect_written_with(result, "role " + aws_->role_arn() + " (AWS_ROLE_ARN) assumed with credentials from environment",
                        *aws_, {aws_->user().secret_access_key});
}

TEST_F(credential_chain_service_test, a_user_without_sts_permission_gets_a_clear_refusal_and_exit_2) {
    auto environment = base_environment();
    environment["AWS_ACCESS_KEY_ID"] = aws_->denied().access_key_id;
    environment["AWS_SECRET_ACCESS_KEY"] = aws_->denied().secret_access_key;
    environment["AWS_ROLE_ARN"] = aws_->role_arn();
    auto result = run_once(environment);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, "AccessDenied")) << result.output;
    EXPECT_TRUE(contains(result.output, aws_->role_arn())) << result.output;
    EXPECT_FALSE(contains(result.output, aws_->denied().secret_access_key)) << result.output;
    EXPECT_EQ(written_password(*aws_), "");
}

TEST_F(credential_chain_service_test, profile_keys_and_region_from_the_default_files) {
    home_.write(".aws/credentials", "# keys of the ECR reader\n[ecr]\naws_access_key_id = " +
                                        aws_->user().access_key_id + "\naws_secret_access_key=" +
                                        aws_->user().secret_access_key + "\n");
    home_.write(".aws/config", "[profile ecr]\nregion = " + aws_->region() + "\n");
    auto environment = base_environment();
    environment.erase("AWS_REGION");
    environment["AWS_PROFILE"] = "ecr";
    auto result = run_once(environment);
    expect_written_with(result, "profile ecr", *aws_, {aws_->user().secret_access_key});
    EXPECT_TRUE(contains(result.output, "AWS region " + aws_->region() + " from the profile")) << result.output;
}

TEST_F(credential_chain_service_test, profile_role_with_a_source_profile_from_explicit_files) {
    auto credentials = files_.write("credentials", "[reader]\naws_access_key_id=" + aws_->user().access_key_id +
                                                       "\naws_secret_access_key=" + aws_->user().secret_access_key + "\n");
    auto config = files_.write("config", "[profile cross]\nrole_arn = " + aws_->role_arn() +
                                             "\nsource_profile = reader\nrole_session_name = cross-account\n");
    auto environment = base_environment();
    environment["AWS_SHARED_CREDENTIALS_FILE"] = credentials;
    environment["AWS_CONFIG_FILE"] = config;
    environment["AWS_DEFAULT_PROFILE"] = "cross";
    auto result = run_once(environment);
    expect_written_with(result, "role " + aws_->role_arn() + " (profile cross) assumed with credentials from profile reader",
                        *aws_, {aws_->user().secret_access_key});
}

TEST_F(credential_chain_service_test, a_missing_profile_or_a_loop_of_profiles_exits_2_naming_it) {
    auto environment = base_environment();
    environment["AWS_CONFIG_FILE"] = files_.write("config", "[profile a]\nrole_arn = " + aws_->role_arn() +
                                                                "\nsource_profile = b\n[profile b]\nrole_arn = " +
                                                                aws_->role_arn() + "\nsource_profile = a\n");
    environment["AWS_PROFILE"] = "absent";
    auto missing = run_once(environment);
    EXPECT_EQ(missing.exit_code, 2) << missing.output;
    EXPECT_TRUE(contains(missing.output, "AWS_PROFILE=\"absent\"")) << missing.output;

    environment["AWS_PROFILE"] = "a";
    auto loop = run_once(environment);
    EXPECT_EQ(loop.exit_code, 2) << loop.output;
    EXPECT_TRUE(contains(loop.output, "loop")) << loop.output;
    EXPECT_TRUE(contains(loop.output, "a -> b -> a")) << loop.output;
}

TEST_F(credential_chain_service_test, container_credentials_with_and_without_an_authorization_token) {
    auto const session = aws_->session();
    auto answer = [session] { return respond(200, container_answer(session, std::chrono::system_clock::now() + 6h)); };

    container_endpoint_stand_in open_endpoint{{answer}};
    auto environment = base_environment();
    environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = open_endpoint.uri();
    auto result = run_once(environment);
    expect_written_with(result, "container credentials at http://127.0.0.1:", *aws_,
                        {session.secret_access_key, session.session_token});

    rancher_->reset();
    container_endpoint_stand_in guarded_endpoint{{answer}, "pod-identity-token-value"};
    environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = guarded_endpoint.uri();
    environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = files_.write("pod-token", "pod-identity-token-value\n");
    result = run_once(environment);
    expect_written_with(result, "container credentials at http://127.0.0.1:", *aws_,
                        {session.secret_access_key, "pod-identity-token-value"});

    // The wrong token: 401, reported, exit 2 (not retryable), the token not quoted.
    rancher_->reset();
    environment.erase("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong-token-value";
    result = run_once(environment);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, "HTTP 401")) << result.output;
    EXPECT_FALSE(contains(result.output, "wrong-token-value")) << result.output;
}

TEST_F(credential_chain_service_test, a_container_uri_to_a_foreign_host_over_http_is_refused) {
    auto environment = base_environment();
    environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://credentials.example.com/v1";
    auto result = run_once(environment);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) << result.output;
    EXPECT_TRUE(contains(result.output, "https")) << result.output;
}

TEST_F(credential_chain_service_test, instance_metadata_gives_the_credentials_and_the_region) {
    auto environment = base_environment(*open_aws_);
    environment.erase("AWS_REGION");
    environment.erase("AWS_EC2_METADATA_DISABLED");
    environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = open_aws_->endpoint();
    auto result = run_once(environment);
    expect_written_with(result, "instance metadata (role default-role)", *open_aws_);
    EXPECT_TRUE(contains(result.output, "AWS region us-east-1 from the instance metadata")) << result.output;
}

TEST_F(credential_chain_service_test, nothing_anywhere_lists_every_provider_tried_in_one_message) {
    auto environment = base_environment();
    environment.erase("AWS_EC2_METADATA_DISABLED");
    // Instance metadata, the last resort, at a port where nothing listens.
    environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] =
        "http://127.0.0.1:" + std::to_string(rancher_ecr::testing::free_tcp_port());
    auto result = run_once(environment);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    auto const message_start = result.output.find("no AWS credentials found");
    ASSERT_NE(message_start, std::string::npos) << result.output;
    auto const message = result.output.substr(message_start, result.output.find('\n', message_start) - message_start);
    for (auto provider : {"environment:", "web identity:", "shared files:", "container:", "instance metadata at"})
        EXPECT_TRUE(contains(message, provider)) << provider << " missing from: " << message;
}

TEST_F(credential_chain_service_test, after_the_credentials_expire_the_ecr_call_uses_the_refreshed_ones) {
    // The container endpoint first hands out the session's keys expiring in 15 minutes and 2 seconds
    // (inside the 15-minute refresh window two seconds later), then the user's for 6 hours.
    auto const session = aws_->session();
    auto const user = aws_->user();
    container_endpoint_stand_in endpoint{
        {[session] { return respond(200, container_answer(session, std::chrono::system_clock::now() + 15min + 2s)); },
         [user] { return respond(200, container_answer(user, std::chrono::system_clock::now() + 6h)); }}};
    ecr_recorder ecr{aws_->endpoint()};
    auto environment = base_environment();
    environment["AWS_ENDPOINT_URL_ECR"] = ecr.endpoint();
    environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = endpoint.uri();
    environment["REFRESH_INTERVAL"] = "1s";
    environment["LISTEN_ADDRESS"] = "127.0.0.1";
    environment["LISTEN_PORT"] = std::to_string(rancher_ecr::testing::free_tcp_port());
    child_process service{{SERVICE_BINARY}, environment};

    auto signed_with = [&](std::string const& key) {
        for (auto const& call : ecr.calls())
            if (call.access_key_id == key && call.status == 200) return true;
        return false;
    };
    EXPECT_TRUE(eventually([&] { return signed_with(user.access_key_id); })) << service.output();
    service.signal(SIGTERM);
    EXPECT_EQ(service.wait(10s), 0) << service.output();

    auto const calls = ecr.calls();
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.front().access_key_id, session.access_key_id);  // the first refresh used the first keys
    // Once the refreshed keys were in use, the old ones were never used again.
    auto first_user_call = std::find_if(calls.begin(), calls.end(),
                                        [&](auto const& call) { return call.access_key_id == user.access_key_id; });
    EXPECT_TRUE(std::all_of(first_user_call, calls.end(),
                            [&](auto const& call) { return call.access_key_id == user.access_key_id; }));
    EXPECT_EQ(endpoint.requests(), 2u);  // fetched once, refreshed once: not for every ECR call
    EXPECT_TRUE(contains(service.output(), "refreshed")) << service.output();
    EXPECT_EQ(written_password(*aws_), aws_->account_id() + "-auth-token");
    EXPECT_FALSE(contains(service.output(), session.secret_access_key));
    EXPECT_FALSE(contains(service.output(), user.secret_access_key));
}

TEST_F(credential_chain_service_test, a_provider_out_of_reach_at_start_is_asked_again_while_the_service_runs) {
    // 503s for the fetch at start and for the first refresh (three tries each), then the session's keys.
    auto const session = aws_->session();
    auto busy = [] { return respond(503, R"({"Code":"ServiceUnavailable"})"); };
    container_endpoint_stand_in endpoint{
        {busy, busy, busy, busy, busy, busy,
         [session] { return respond(200, container_answer(session, std::chrono::system_clock::now() + 6h)); }}};
    auto environment = base_environment();
    environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = endpoint.uri();
    environment["LISTEN_ADDRESS"] = "127.0.0.1";
    environment["LISTEN_PORT"] = std::to_string(rancher_ecr::testing::free_tcp_port());
    child_process service{{SERVICE_BINARY}, environment};

    // The start goes on without credentials; the first refresh fails, and its retry after the
    // backoff (a second at the least) gets the keys.
    EXPECT_TRUE(eventually([&] { return written_password(*aws_) == aws_->account_id() + "-auth-token"; })) << [&] {
        service.wait_for_output("\x01", 50ms);
        return service.output();
    }();
    service.signal(SIGTERM);
    EXPECT_EQ(service.wait(10s), 0) << service.output();
    EXPECT_TRUE(contains(service.output(), "HTTP 503")) << service.output();
    EXPECT_EQ(endpoint.requests(), 7u);
}

}  // namespace
}  // namespace rancher_ecr
