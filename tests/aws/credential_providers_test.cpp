// The credential providers over real sockets: STS (web identity, AssumeRole) and instance metadata
// against moto_server, container credentials against a loopback stand-in; each followed by a real
// signed ECR call that moto accepts (signature checking on, except where moto's fixed instance
// credentials need it off).
#include "aws/credential_providers.hpp"

#include <atomic>
#include <mutex>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "aws/credential_responses.hpp"
#include "aws/ecr_client.hpp"
#include "aws/ecr_endpoint.hpp"
#include "net/https_client.hpp"
#include "obs/logging.hpp"
#include "support/aws_stand_in.hpp"
#include "support/loopback_server.hpp"
#include "support/run_with_deadline.hpp"
#include "support/temporary_directory.hpp"

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using rancher_ecr::testing::aws_stand_in;
using rancher_ecr::testing::loopback_server;
using rancher_ecr::testing::run_with_deadline;
using rancher_ecr::testing::scripted_answer;
using rancher_ecr::testing::temporary_directory;

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

scripted_answer respond(int status, std::string body, std::string content_type = "application/json") {
    return scripted_answer{scripted_answer::action::respond,
                           http_response{status, {{"Content-Type", std::move(content_type)}}, std::move(body)},
                           {}};
}

// A container / instance metadata JSON answer with `credentials`, expiring at `expiration`.
std::string json_answer(aws_credentials const& credentials, std::chrono::system_clock::time_point expiration) {
    return R"({"AccessKeyId":")" + credentials.access_key_id + R"(","SecretAccessKey":")" +
           credentials.secret_access_key + R"(","Token":")" + credentials.session_token + R"(","Expiration":")" +
           format_utc(expiration) + R"("})";
}

url url_of(std::string const& text) { return *parse_url(text); }
url loopback(loopback_server const& server, std::string const& path = "/") {
    return url_of("http://127.0.0.1:" + std::to_string(server.port()) + path);
}

class credential_providers_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        aws_ = new aws_stand_in{{"--public-web-identity"}};
        open_aws_ = new aws_stand_in{{"--no-auth"}};
    }
    static void TearDownTestSuite() {
        delete open_aws_;
        delete aws_;
    }

    credential_transports transports() { return {sts_client_, container_client_, metadata_client_}; }

    std::unique_ptr<credential_source> source(credential_plan plan, std::string const& sts = aws_->endpoint()) {
        return make_credential_source(plan, transports(), aws_->region(), url_of(sts));
    }

    result<aws_credentials> fetch(credential_source& from) { return run_with_deadline(context_, from.credentials(), 30s); }

    // GetAuthorizationToken signed with `credentials` at `endpoint` (moto by default).
    result<std::vector<ecr_authorization>> ecr_call(aws_credentials const& credentials,
                                                    std::string const& endpoint = aws_->endpoint()) {
        ecr_client ecr{sts_client_, aws_->region(), ecr_endpoint(aws_->region(), url_of(endpoint))};
        return run_with_deadline(context_, ecr.get_authorization_tokens(credentials, {}), 30s);
    }

    // The providers' clients wait `limit` for the connection and for the answer, as the service's do.
    static https_client_options timeouts(std::chrono::milliseconds limit) {
        https_client_options options;
        options.connect_timeout = limit;
        options.request_timeout = limit;
        return options;
    }

    static aws_stand_in* aws_;       // signature checking on; AssumeRoleWithWebIdentity taken unsigned
    static aws_stand_in* open_aws_;  // no signature checking (its instance metadata's keys are fixed)
    boost::asio::io_context context_;
    https_client sts_client_{context_.get_executor(), {}};
    https_client container_client_{context_.get_executor(), timeouts(2000ms)};
    https_client metadata_client_{context_.get_executor(), timeouts(1000ms)};
    temporary_directory files_;
};

aws_stand_in* credential_providers_test::aws_ = nullptr;
aws_stand_in* credential_providers_test::open_aws_ = nullptr;

TEST_F(credential_providers_test, web_identity_against_moto_then_a_signed_ecr_call) {
    auto token_file = files_.write("token", "eyJhbGciOiJSUzI1NiJ9.payload.signature\n");
    auto from = source({web_identity{token_file, aws_->role_arn(), "chain-test"}, {}, {}, false});
    auto credentials = fetch(*from);
    ASSERT_TRUE(credentials) << describe(credentials.error());
    EXPECT_TRUE(credentials->access_key_id.starts_with("ASIA")) << credentials->access_key_id;
    EXPECT_FALSE(credentials->session_token.empty());
    ASSERT_TRUE(credentials->expiration);
    EXPECT_GT(*credentials->expiration, std::chrono::system_clock::now() + 30min);
    EXPECT_EQ(credentials->source, "web identity (role " + aws_->role_arn() + ")");

    auto tokens = ecr_call(*credentials);
    ASSERT_TRUE(tokens) << describe(tokens.error());
    EXPECT_EQ(tokens->front().password, aws_->account_id() + "-auth-token");

    // The cache hands out the same ones again without asking STS.
    auto again = fetch(*from);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->access_key_id, credentials->access_key_id);
}

TEST_F(credential_providers_test, a_missing_token_file_is_a_clear_failure) {
    auto from = source({web_identity{(files_.path() / "absent").string(), aws_->role_arn(), ""}, {}, {}, false});
    auto credentials = fetch(*from);
    ASSERT_FALSE(credentials);
    EXPECT_EQ(credentials.error().kind, failure_kind::config);
    EXPECT_TRUE(contains(credentials.error().message, "web identity token file")) << credentials.error().message;
}

TEST_F(credential_providers_test, assume_role_against_moto_then_a_signed_ecr_call) {
    credential_plan plan{fixed_keys{aws_->user()}, {{aws_->role_arn(), "", "", "AWS_ROLE_ARN"}}, {}, false};
    auto from = source(plan);
    auto credentials = fetch(*from);
    ASSERT_TRUE(credentials) << describe(credentials.error());
    EXPECT_NE(credentials->access_key_id, aws_->user().access_key_id);
    EXPECT_TRUE(credentials->expiration.has_value());
    EXPECT_EQ(credentials->source, "role " + aws_->role_arn() + " (AWS_ROLE_ARN) assumed with credentials from test");

    auto tokens = ecr_call(*credentials);
    ASSERT_TRUE(tokens) << describe(tokens.error());
}

TEST_F(credential_providers_test, assume_role_is_refused_to_a_user_without_the_permission) {
    credential_plan plan{fixed_keys{aws_->denied()}, {{aws_->role_arn(), "", "", "profile x"}}, {}, false};
    auto from = source(plan);
    auto credentials = fetch(*from);
    ASSERT_FALSE(credentials);
    EXPECT_EQ(credentials.error().code, "AccessDenied");
    EXPECT_FALSE(credentials.error().retryable);
    EXPECT_TRUE(contains(credentials.error().message, "STS AssumeRole at 127.0.0.1:")) << credentials.error().message;
    EXPECT_FALSE(contains(describe(credentials.error()), aws_->denied().secret_access_key));
}

TEST_F(credential_providers_test, instance_metadata_against_moto_then_an_ecr_call) {
    instance_metadata settings{url_of(open_aws_->endpoint()), true};
    auto from = source({settings, {}, {}, true});
    auto credentials = fetch(*from);
    ASSERT_TRUE(credentials) << describe(credentials.error());
    // moto's fixed instance credentials, which only a moto without signature checking accepts.
    EXPECT_EQ(credentials->access_key_id, "test-key");
    EXPECT_EQ(credentials->session_token, "test-session-token");
    EXPECT_TRUE(credentials->expiration.has_value());
    EXPECT_EQ(credentials->source, "instance metadata (role default-role)");

    auto region = run_with_deadline(context_, instance_metadata_region(metadata_client_, settings), 10s);
    ASSERT_TRUE(region) << describe(region.error());
    EXPECT_EQ(*region, "us-east-1");

    auto tokens = ecr_call(*credentials, open_aws_->endpoint());
    ASSERT_TRUE(tokens) << describe(tokens.error());
}

// A scripted instance metadata service: `token_status` for the PUT, then the role and its keys.
class metadata_stand_in {
public:
    explicit metadata_stand_in(int token_status, aws_credentials credentials = {"AKIDIMDS", "s", "t", {}, {}})
        : server_{[this, token_status, credentials](http_request const& request) {
              if (request.method == "PUT" && request.target == "/latest/api/token") {
                  if (request.header("x-aws-ec2-metadata-token-ttl-seconds") != "21600") return respond(400, "no ttl");
                  return token_status == 200 ? respond(200, "imds-token", "text/plain") : respond(token_status, "");
              }
              if (token_status == 200 && request.header("x-aws-ec2-metadata-token") != "imds-token")
                  return respond(401, "");
              if (request.target == "/latest/meta-data/iam/security-credentials/")
                  return respond(200, "ecr-node-role\n", "text/plain");
              if (request.target == "/latest/meta-data/iam/security-credentials/ecr-node-role")
                  return respond(200, json_answer(credentials, std::chrono::system_clock::now() + 6h));
              if (request.target == "/latest/meta-data/placement/region") return respond(200, "eu-west-3", "text/plain");
              return respond(404, "");
          }} {}

    url endpoint() const { return loopback(server_); }
    std::vector<http_request> requests() const { return server_.requests(); }

private:
    loopback_server server_;
};

TEST_F(credential_providers_test, instance_metadata_v2_token_goes_with_every_get) {
    metadata_stand_in imds{200};
    auto from = source({instance_metadata{imds.endpoint(), false}, {}, {}, true});
    auto credentials = fetch(*from);
    ASSERT_TRUE(credentials) << describe(credentials.error());
    EXPECT_EQ(credentials->access_key_id, "AKIDIMDS");
    EXPECT_EQ(credentials->source, "instance metadata (role ecr-node-role)");
    auto requests = imds.requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(requests[0].method, "PUT");
    EXPECT_EQ(requests[1].header("x-aws-ec2-metadata-token"), "imds-token");
    EXPECT_EQ(requests[2].header("x-aws-ec2-metadata-token"), "imds-token");
}

TEST_F(credential_providers_test, instance_metadata_falls_back_to_v1_unless_disabled) {
    for (int status : {403, 404, 405}) {
        metadata_stand_in imds{status};
        auto from = source({instance_metadata{imds.endpoint(), true}, {}, {}, true});
        auto credentials = fetch(*from);
        ASSERT_TRUE(credentials) << status << ": " << describe(credentials.error());
        EXPECT_FALSE(imds.requests().back().header("x-aws-ec2-metadata-token").has_value());
        auto region = run_with_deadline(context_, instance_metadata_region(metadata_client_, {imds.endpoint(), true}));
        ASSERT_TRUE(region);
        EXPECT_EQ(*region, "eu-west-3");
    }
    metadata_stand_in imds{403};
    auto from = source({instance_metadata{imds.endpoint(), false}, {}, {}, true});
    auto credentials = fetch(*from);
    ASSERT_FALSE(credentials);
    EXPECT_TRUE(contains(credentials.error().message, "AWS_EC2_METADATA_V1_DISABLED")) << credentials.error().message;
    EXPECT_EQ(imds.requests().size(), 1u);
}

TEST_F(credential_providers_test, instance_metadata_without_a_role_says_so) {
    loopback_server imds{[](http_request const& request) {
        return request.method == "PUT" ? respond(200, "t", "text/plain") : respond(404, "");
    }};
    auto from = source({instance_metadata{loopback(imds), true}, {}, {}, true});
    auto credentials = fetch(*from);
    ASSERT_FALSE(credentials);
    EXPECT_TRUE(contains(credentials.error().message, "no IAM role")) << credentials.error().message;
}

// A container credentials endpoint handing out `answers` in turn (the last one again once they run
// out), requiring `required_token` in Authorization when it is not empty.
class container_stand_in {
public:
    container_stand_in(std::vector<std::string> answers, std::string required_token = {})
        : answers_{std::move(answers)},
          server_{[this, required_token](http_request const& request) {
              if (!required_token.empty() && request.header("authorization") != required_token)
                  return respond(401, R"({"Code":"Unauthorized","Message":"bad token"})");
              std::lock_guard lock{mutex_};
              auto index = std::min(served_++, answers_.size() - 1);
              return respond(200, answers_[index]);
          }} {}

    url endpoint() const { return loopback(server_, "/v2/credentials/task-1"); }
    std::vector<http_request> requests() const { return server_.requests(); }

private:
    std::mutex mutex_;
    std::vector<std::string> answers_;
    std::size_t served_ = 0;
    loopback_server server_;
};

TEST_F(credential_providers_test, container_credentials_without_a_token_then_a_signed_ecr_call) {
    container_stand_in container{{json_answer(aws_->session(), std::chrono::system_clock::now() + 6h)}};
    auto from = source({container_endpoint{container.endpoint(), {}, {}}, {}, {}, false});
    auto credentials = fetch(*from);
    ASSERT_TRUE(credentials) << describe(credentials.error());
    EXPECT_EQ(credentials->access_key_id, aws_->session().access_key_id);
    EXPECT_EQ(credentials->source, "container credentials at " + container.endpoint().origin());
    ASSERT_EQ(container.requests().size(), 1u);
    EXPECT_EQ(container.requests()[0].target, "/v2/credentials/task-1");
    EXPECT_FALSE(container.requests()[0].header("authorization").has_value());

    auto tokens = ecr_call(*credentials);
    ASSERT_TRUE(tokens) << describe(tokens.error());
}

TEST_F(credential_providers_test, container_credentials_with_a_token_then_a_signed_ecr_call) {
    container_stand_in container{{json_answer(aws_->session(), std::chrono::system_clock::now() + 6h)},
                                 "Bearer pod-identity-token"};
    auto from = source({container_endpoint{container.endpoint(), {}, "Bearer pod-identity-token"}, {}, {}, false});
    auto credentials = fetch(*from);
    ASSERT_TRUE(credentials) << describe(credentials.error());
    EXPECT_EQ(container.requests()[0].header("authorization"), "Bearer pod-identity-token");
    auto tokens = ecr_call(*credentials);
    ASSERT_TRUE(tokens) << describe(tokens.error());

    // A wrong token: the endpoint's 401 is reported, not retried, and the token is not quoted.
    auto wrong = source({container_endpoint{container.endpoint(), {}, "Bearer wrong-token"}, {}, {}, false});
    auto refused = fetch(*wrong);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().http_status, 401);
    EXPECT_FALSE(refused.error().retryable);
    EXPECT_FALSE(contains(describe(refused.error()), "wrong-token"));
    EXPECT_EQ(container.requests().size(), 2u);
}

TEST_F(credential_providers_test, container_token_file_is_read_at_every_fetch) {
    // Credentials inside the refresh window: every call fetches again.
    container_stand_in container{{json_answer(aws_->session(), std::chrono::system_clock::now() + 5min)}};
    auto token_file = files_.write("pod-token", "first-token\n");
    auto from = source({container_endpoint{container.endpoint(), token_file, {}}, {}, {}, false});
    ASSERT_TRUE(fetch(*from));
    files_.write("pod-token", "second-token");
    ASSERT_TRUE(fetch(*from));
    auto requests = container.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].header("authorization"), "first-token");
    EXPECT_EQ(requests[1].header("authorization"), "second-token");

    files_.write("pod-token", "bad\r\nX-Injected: 1");
    auto refused = fetch(*from);
    ASSERT_TRUE(refused);  // the cached ones are still valid
    EXPECT_EQ(container.requests().size(), 2u);  // nothing was sent
}

TEST_F(credential_providers_test, container_server_errors_are_tried_three_times) {
    std::atomic<int> calls{0};
    loopback_server failing{[&](http_request const&) {
        ++calls;
        return respond(503, "busy");
    }};
    auto from = source({container_endpoint{loopback(failing), {}, {}}, {}, {}, false});
    auto credentials = fetch(*from);
    ASSERT_FALSE(credentials);
    EXPECT_EQ(credentials.error().http_status, 503);
    EXPECT_TRUE(credentials.error().retryable);
    EXPECT_EQ(calls.load(), 3);
}

TEST_F(credential_providers_test, web_identity_token_file_is_read_at_every_refresh) {
    // An STS stand-in whose credentials sit inside the refresh window, so each call refreshes.
    loopback_server sts{[](http_request const&) {
        auto expiration = format_utc(std::chrono::system_clock::now() + 5min);
        return respond(200,
                       "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
                       "<AccessKeyId>ASIASTANDIN</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
                       "<SessionToken>t</SessionToken><Expiration>" + expiration +
                           "</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
                           "</AssumeRoleWithWebIdentityResponse>",
                       "text/xml");
    }};
    auto token_file = files_.write("token", "first-jwt");
    auto from = source({web_identity{token_file, "arn:aws:iam::1:role/r", ""}, {}, {}, false},
                       "http://127.0.0.1:" + std::to_string(sts.port()));
    ASSERT_TRUE(fetch(*from));
    files_.write("token", "second-jwt");
    ASSERT_TRUE(fetch(*from));
    auto requests = sts.requests();
    ASSERT_EQ(requests.size(), 2u);
    for (auto const& request : requests) {
        EXPECT_EQ(request.method, "POST");
        EXPECT_EQ(request.header("content-type"), "application/x-www-form-urlencoded; charset=utf-8");
        EXPECT_FALSE(request.header("authorization").has_value());  // unsigned
        EXPECT_TRUE(contains(request.body, "Action=AssumeRoleWithWebIdentity")) << request.body;
        EXPECT_TRUE(contains(request.body, "RoleSessionName=rancher-ecr-credentials-")) << request.body;
    }
    EXPECT_TRUE(contains(requests[0].body, "WebIdentityToken=first-jwt")) << requests[0].body;
    EXPECT_TRUE(contains(requests[1].body, "WebIdentityToken=second-jwt")) << requests[1].body;
}

TEST_F(credential_providers_test, sts_errors_are_reported_with_their_code) {
    loopback_server sts{[](http_request const&) {
        return respond(400,
                       "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                       "<Message>Couldn't retrieve verification key from your identity provider</Message></Error>"
                       "</ErrorResponse>",
                       "text/xml");
    }};
    auto token_file = files_.write("token", "jwt");
    auto from = source({web_identity{token_file, "arn:aws:iam::1:role/r", "s"}, {}, {}, false},
                       "http://127.0.0.1:" + std::to_string(sts.port()));
    auto credentials = fetch(*from);
    ASSERT_FALSE(credentials);
    EXPECT_EQ(credentials.error().code, "InvalidIdentityToken");
    EXPECT_TRUE(contains(credentials.error().message, "STS AssumeRoleWithWebIdentity at 127.0.0.1:"))
        << credentials.error().message;
}

}  // namespace
}  // namespace rancher_ecr
