#include "peer_text.hpp"

#include <gtest/gtest.h>

#include "aws/ecr_token.hpp"
#include "rancher/rancher_resources.hpp"

namespace rancher_ecr {
namespace {

bool contains(std::string const& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A password as long as ECR's (about 1,500 characters), with the characters of base64.
std::string const long_password = [] {
    std::string out;
    for (int i = 0; i < 1500; ++i) out += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 37 + i / 7) % 64];
    return out + "==";
}();

TEST(sanitised_excerpt, keeps_printable_text_and_folds_whitespace) {
    EXPECT_EQ(sanitised_excerpt("a  b\r\n\tc\x01", 100), "a b c?");
    EXPECT_EQ(sanitised_excerpt(std::string(300, 'x'), 10), std::string(10, 'x') + "...");
}

TEST(mask_secrets, replaces_each_secret_in_every_form_an_echo_takes) {
    std::vector<std::string> const secrets{"s3cr3t/value+with=signs"};
    EXPECT_EQ(mask_secrets("a s3cr3t/value+with=signs b", secrets), "a *** b");
    EXPECT_EQ(mask_secrets(R"({"secretValue":"s3cr3t\/value+with=signs"})", secrets), R"({"secretValue":"***"})");
    EXPECT_EQ(mask_secrets("secretValue=s3cr3t%2Fvalue%2Bwith%3Dsigns&x=1", secrets), "secretValue=***&x=1");
    // Short values would mangle ordinary words: they are not secrets worth the name.
    EXPECT_EQ(mask_secrets("the AWS user", std::vector<std::string>{"AWS"}), "the AWS user");
}

TEST(mask_secrets, a_secret_inside_a_longer_one_leaves_nothing_of_either) {
    std::vector<std::string> const secrets{"AKIAEXAMPLEKEY12", "Credential=AKIAEXAMPLEKEY12/20260101"};
    EXPECT_EQ(mask_secrets("x Credential=AKIAEXAMPLEKEY12/20260101 y AKIAEXAMPLEKEY12", secrets), "x *** y ***");
}

TEST(mask_secrets, masks_credentials_of_the_authorization_schemes) {
    std::vector<std::string> const none;
    EXPECT_EQ(mask_secrets("Authorization: Basic dXNlcjpwYXNzd29yZA==\r\nHost: h", none),
              "Authorization: Basic ***\r\nHost: h");
    EXPECT_EQ(mask_secrets(R"({"authorization":"bearer eyJhbGciOi.J9eyJzdWIi-OjEy_MzQ1"})", none),
              R"({"authorization":"bearer ***"})");
    EXPECT_EQ(mask_secrets("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ecr/aws4_request, "
                           "SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400"
                           "e06b5924a6f2b5d7",
                           none),
              "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host;x-amz-date, "
              "Signature=***");
    EXPECT_EQ(mask_secrets("?X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6&X-Amz-Date=1", none),
              "?X-Amz-Signature=***&X-Amz-Date=1");
    // Ordinary prose that happens to hold the words stays as it is.
    EXPECT_EQ(mask_secrets("Basic auth is not configured; Signature= missing", none),
              "Basic auth is not configured; Signature= missing");
}

// The values registered as secrets are masked wherever peer text is quoted, before it is cut short:
// an excerpt never holds a part of one.
TEST(sanitised_excerpt, masks_the_registered_secrets_before_cutting) {
    mask_in_peer_text(long_password);
    auto const excerpt = sanitised_excerpt(R"({"publicValue":"AWS","secretValue":")" + long_password + "\"}", 200);
    EXPECT_EQ(excerpt, R"({"publicValue":"AWS","secretValue":"***"})");
    auto const cut = sanitised_excerpt("prefix " + long_password, 100);
    EXPECT_FALSE(contains(cut, long_password.substr(0, 12))) << cut;
}

TEST(parse_rancher_error, quotes_no_registered_secret_nor_an_authorization_header) {
    mask_in_peer_text(long_password);
    std::string const echo = R"({"type":"error","status":422,"code":"InvalidFormat","fieldName":"secretValue",)"
                             R"("message":"PUT /v2-beta/registrycredentials/1c1 Authorization: Basic )"
                             R"(YWNjZXNzOnNlY3JldA== {\"secretValue\":\")" + long_password + R"(\"}"})";
    auto const problem = parse_rancher_error(422, echo, "Rancher PUT /v2-beta/registrycredentials/1c1");
    EXPECT_TRUE(contains(problem.message, "InvalidFormat, field secretValue")) << problem.message;
    EXPECT_FALSE(contains(problem.message, long_password.substr(0, 12))) << problem.message;
    EXPECT_FALSE(contains(problem.message, "YWNjZXNzOnNlY3JldA")) << problem.message;

    auto const raw = parse_rancher_error(500, "Authorization: Basic YWNjZXNzOnNlY3JldA==\r\n\r\n" + long_password, "");
    EXPECT_TRUE(contains(raw.message, "not a Rancher error: Authorization: Basic ***")) << raw.message;
    EXPECT_FALSE(contains(raw.message, long_password.substr(0, 12))) << raw.message;
}

TEST(parse_aws_error, quotes_no_session_token_nor_signature) {
    std::string const session_token = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN/with+slashes==";
    mask_in_peer_text(session_token);
    std::string const headers = "Authorization: AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/ecr/"
                                "aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
                                "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\r\n"
                                "X-Amz-Security-Token: " + session_token;
    for (auto const& body : {R"({"__type":"UnrecognizedClientException","message":")" +
                                 std::string{headers}.replace(headers.find("\r\n"), 2, "\\r\\n") + "\"}",
                             "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>" + headers +
                                 "</Message></Error></ErrorResponse>",
                             headers}) {
        auto const problem = parse_aws_error(403, body, "ECR GetAuthorizationToken at ecr.example");
        EXPECT_FALSE(contains(problem.message, "5d672d79c15b13162d92")) << problem.message;
        EXPECT_FALSE(contains(problem.message, session_token.substr(0, 12))) << problem.message;
        EXPECT_TRUE(contains(problem.message, "Signature=***")) << problem.message;
    }
}

}  // namespace
}  // namespace rancher_ecr
