#include "aws/ecr_client.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "aws/ecr_endpoint.hpp"
#include "net/https_client.hpp"
#include "support/aws_stand_in.hpp"
#include "support/loopback_server.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

using rancher_ecr::testing::aws_stand_in;
using rancher_ecr::testing::loopback_server;
using rancher_ecr::testing::run_with_deadline;
using rancher_ecr::testing::scripted_answer;

// One moto_server for the whole suite: it takes a second or two to start.
class ecr_client_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { aws_ = new aws_stand_in; }
    static void TearDownTestSuite() {
        delete aws_;
        aws_ = nullptr;
    }

    result<std::vector<ecr_authorization>> fetch(aws_credentials const& credentials,
                                                 std::vector<std::string> const& registry_ids = {}) {
        auto endpoint = ecr_endpoint(aws_->region(), *parse_url(aws_->endpoint()));
        ecr_client ecr{client_, aws_->region(), endpoint};
        return run_with_deadline(context_, ecr.get_authorization_tokens(credentials, registry_ids));
    }

    static aws_stand_in* aws_;
    boost::asio::io_context context_;
    https_client client_{context_.get_executor(), {}};
};

aws_stand_in* ecr_client_test::aws_ = nullptr;

TEST_F(ecr_client_test, a_correct_key_gets_a_token) {
    auto tokens = fetch(aws_->user());
    ASSERT_TRUE(tokens) << describe(tokens.error());
    ASSERT_EQ(tokens->size(), 1u);
    auto const& token = tokens->front();
    EXPECT_EQ(token.username, "AWS");
    EXPECT_EQ(token.password, aws_->account_id() + "-auth-token");
    EXPECT_EQ(token.registry_host, aws_->account_id() + ".dkr.ecr." + aws_->region() + ".amazonaws.com");
}

TEST_F(ecr_client_test, one_token_per_registry_id) {
    auto tokens = fetch(aws_->user(), {"111111111111", "222222222222"});
    ASSERT_TRUE(tokens) << describe(tokens.error());
    ASSERT_EQ(tokens->size(), 2u);
    EXPECT_EQ((*tokens)[0].registry_host, "111111111111.dkr.ecr." + aws_->region() + ".amazonaws.com");
    EXPECT_EQ((*tokens)[1].registry_host, "222222222222.dkr.ecr." + aws_->region() + ".amazonaws.com");
    EXPECT_EQ((*tokens)[1].password, "222222222222-auth-token");
}

TEST_F(ecr_client_test, session_credentials_from_assume_role_work) {
    ASSERT_FALSE(aws_->session().session_token.empty());
    auto tokens = fetch(aws_->session());
    ASSERT_TRUE(tokens) << describe(tokens.error());
    EXPECT_EQ(tokens->size(), 1u);
}

TEST_F(ecr_client_test, a_wrong_secret_is_a_clear_signature_error) {
    auto wrong = aws_->user();
    wrong.secret_access_key = "wrong" + wrong.secret_access_key.substr(5);
    auto tokens = fetch(wrong);
    ASSERT_FALSE(tokens);
    auto const& problem = tokens.error();
    EXPECT_EQ(problem.kind, failure_kind::service);
    EXPECT_EQ(problem.code, "SignatureDoesNotMatch");
    EXPECT_EQ(problem.http_status, 403);
    EXPECT_FALSE(problem.retryable);
    EXPECT_NE(problem.message.find("ECR GetAuthorizationToken at 127.0.0.1:"), std::string::npos) << problem.message;
    EXPECT_EQ(describe(problem).find(wrong.secret_access_key), std::string::npos);
    EXPECT_EQ(describe(problem).find(aws_->user().secret_access_key), std::string::npos);
}

TEST_F(ecr_client_test, an_unknown_key_is_reported) {
    auto unknown = aws_->user();
    unknown.access_key_id = "AKIAUNKNOWNKEY000000";
    auto tokens = fetch(unknown);
    ASSERT_FALSE(tokens);
    EXPECT_EQ(tokens.error().code, "InvalidClientTokenId");
    EXPECT_FALSE(tokens.error().retryable);
}

TEST_F(ecr_client_test, a_user_without_permission_is_denied) {
    auto tokens = fetch(aws_->denied());
    ASSERT_FALSE(tokens);
    EXPECT_EQ(tokens.error().code, "AccessDenied");
    EXPECT_FALSE(tokens.error().retryable);
}

// Real ECR answers errors as JSON 1.1; throttling must come out as retryable.
TEST(ecr_client, json_throttling_is_retryable_and_the_request_is_well_formed) {
    loopback_server server{[](http_request const&) {
        return scripted_answer{scripted_answer::action::respond,
                               http_response{400,
                                             {{"Content-Type", "application/x-amz-json-1.1"}},
                                             R"({"__type":"ThrottlingException","message":"Rate exceeded"})"},
                               {}};
    }};
    boost::asio::io_context context;
    https_client client{context.get_executor(), {}};
    auto endpoint = *parse_url("http://127.0.0.1:" + std::to_string(server.port()));
    ecr_client ecr{client, "eu-west-1", endpoint};
    aws_credentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token", {}, "test"};
    auto tokens = run_with_deadline(context, ecr.get_authorization_tokens(credentials, {"123456789012"}));
    ASSERT_FALSE(tokens);
    EXPECT_EQ(tokens.error().code, "ThrottlingException");
    EXPECT_TRUE(tokens.error().retryable);
    EXPECT_NE(tokens.error().message.find("Rate exceeded"), std::string::npos) << tokens.error().message;

    auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].header("x-amz-target"), "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken");
    EXPECT_EQ(seen[0].header("content-type"), "application/x-amz-json-1.1");
    EXPECT_EQ(seen[0].header("x-amz-security-token"), "session-token");
    EXPECT_EQ(seen[0].body, R"({"registryIds":["123456789012"]})");
    auto authorization = std::string{seen[0].header("authorization").value_or("")};
    EXPECT_TRUE(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << authorization;
    EXPECT_NE(authorization.find("/eu-west-1/ecr/aws4_request"), std::string::npos) << authorization;
}

TEST(ecr_client, an_undecodable_token_is_a_bad_response_naming_the_endpoint) {
    loopback_server server{[](http_request const&) {
        return scripted_answer{
            scripted_answer::action::respond,
            http_response{200,
                          {},
                          R"({"authorizationData":[{"authorizationToken":"not base64!","expiresAt":1.7385984915E9,)"
                          R"("proxyEndpoint":"https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"}]})"},
            {}};
    }};
    boost::asio::io_context context;
    https_client client{context.get_executor(), {}};
    ecr_client ecr{client, "eu-west-1", *parse_url("http://127.0.0.1:" + std::to_string(server.port()))};
    auto tokens = run_with_deadline(context, ecr.get_authorization_tokens({"AKID", "secret", {}, {}, "test"}, {}));
    ASSERT_FALSE(tokens);
    EXPECT_EQ(tokens.error().kind, failure_kind::bad_response);
    EXPECT_NE(tokens.error().message.find("ECR GetAuthorizationToken at 127.0.0.1:"), std::string::npos)
        << tokens.error().message;
}

}  // namespace
}  // namespace rancher_ecr
