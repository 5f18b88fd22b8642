// The answers of STS, the container endpoint and instance metadata, and the refresh-ahead decision.
#include "aws/credential_responses.hpp"

#include <gtest/gtest.h>

#include "aws/credential_refresh.hpp"

namespace rancher_ecr {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

system_clock::time_point utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

TEST(parse_iso8601, the_forms_aws_writes) {
    EXPECT_EQ(parse_iso8601("2026-11-29T04:29:44Z"), utc(2026, 11, 29, 4, 29, 44));
    EXPECT_EQ(parse_iso8601("2026-11-29T04:29:44.905595Z"), utc(2026, 11, 29, 4, 29, 44) + 905595us);
    EXPECT_EQ(parse_iso8601("2011-07-15T23:28:33.359Z"), utc(2011, 7, 15, 23, 28, 33) + 359ms);
    EXPECT_EQ(parse_iso8601("2026-11-29T04:29:44+00:00"), utc(2026, 11, 29, 4, 29, 44));
    EXPECT_EQ(parse_iso8601("2026-11-29T06:29:44+02:00"), utc(2026, 11, 29, 4, 29, 44));
    EXPECT_EQ(parse_iso8601("2026-11-28T23:29:44-0500"), utc(2026, 11, 29, 4, 29, 44));
    for (auto bad : {"", "2026-11-29", "2026-11-29T04:29:44", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                     "2026-11-29T24:00:00Z", "2026-11-29T04:29:44.Z", "2026/11/29T04:29:44Z",
                     "2026-11-29T04:29:44ZZ", "2026-11-29T04:29:44+2:00", "1738598491"})
        EXPECT_FALSE(parse_iso8601(bad)) << bad;
}

// Found by tests/fuzz/credential_responses_fuzz: a year far from now overflowed system_clock's
// nanoseconds (undefined behaviour), and offsets of 99 hours or 99 minutes were taken.
TEST(parse_iso8601, years_and_offsets_out_of_range_are_refused) {
    for (auto bad : {"1418-11-29T04:29:44.905595Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                     "1969-12-31T23:59:59Z", "2201-01-01T00:00:00Z", "2026-11-29T04:29:44+24:00",
                     "2026-11-29T04:29:44+99:00", "2026-11-29T04:29:44-0099", "2026-11-29T04:29:44+00:60"})
        EXPECT_FALSE(parse_iso8601(bad)) << bad;
    EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00Z"), system_clock::time_point{});
    EXPECT_EQ(parse_iso8601("2200-12-31T23:59:59+23:59"), utc(2200, 12, 31, 0, 0, 59));
}

// What moto 5.2.1 answers (captured with curl), shaped as real STS answers.
constexpr std::string_view web_identity_answer =
    R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">)"
    R"(<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIARZPUZDIKF7GYBAJA</AccessKeyId>)"
    R"(<SecretAccessKey>hg3A2EBe38xGmi0wWcU4doD3wrK8gZ1tWvRLUh/w</SecretAccessKey>)"
    R"(<SessionToken>FQoGZXIvYXdzEBYaDGkrFzKRrqj26Uy7pz0E+/=</SessionToken>)"
    R"(<Expiration>2026-11-29T04:29:44.905595Z</Expiration></Credentials><AssumedRoleUser>)"
    R"(<AssumedRoleId>ARO123EXAMPLE123:s1</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/x/s1</Arn>)"
    R"(</AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleWithWebIdentityResult>)"
    R"(<ResponseMetadata><RequestId>tFAh</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>)";

TEST(parse_sts_credentials, web_identity_and_assume_role_answers) {
    auto credentials = parse_sts_credentials(web_identity_answer);
    ASSERT_TRUE(credentials) << credentials.error().message;
    EXPECT_EQ(credentials->access_key_id, "ASIARZPUZDIKF7GYBAJA");
    EXPECT_EQ(credentials->secret_access_key, "hg3A2EBe38xGmi0wWcU4doD3wrK8gZ1tWvRLUh/w");
    EXPECT_EQ(credentials->session_token, "FQoGZXIvYXdzEBYaDGkrFzKRrqj26Uy7pz0E+/=");
    EXPECT_EQ(credentials->expiration, utc(2026, 11, 29, 4, 29, 44) + 905595us);

    // Real STS indents its XML and escapes what needs it.
    credentials = parse_sts_credentials(
        "<AssumeRoleResponse>\n  <AssumeRoleResult>\n    <Credentials>\n"
        "      <AccessKeyId>ASIAX</AccessKeyId>\n      <SecretAccessKey>a&amp;b</SecretAccessKey>\n"
        "      <SessionToken>tok</SessionToken>\n      <Expiration>2026-01-01T00:00:00Z</Expiration>\n"
        "    </Credentials>\n  </AssumeRoleResult>\n</AssumeRoleResponse>\n");
    ASSERT_TRUE(credentials) << credentials.error().message;
    EXPECT_EQ(credentials->secret_access_key, "a&b");
}

TEST(parse_sts_credentials, missing_or_malformed_parts_never_quote_a_secret) {
    auto result = parse_sts_credentials("<ErrorResponse/>");
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, failure_kind::bad_response);
    EXPECT_TRUE(contains(result.error().message, "<Credentials>"));

    std::string without_token{web_identity_answer};
    without_token.erase(without_token.find("<SessionToken>"),
                        without_token.find("</SessionToken>") + 15 - without_token.find("<SessionToken>"));
    result = parse_sts_credentials(without_token);
    ASSERT_FALSE(result);
    EXPECT_TRUE(contains(result.error().message, "SessionToken")) << result.error().message;

    std::string bad_time{web_identity_answer};
    bad_time.replace(bad_time.find("2026-11-29T04"), 13, "tomorrow noon");
    result = parse_sts_credentials(bad_time);
    ASSERT_FALSE(result);
    EXPECT_TRUE(contains(result.error().message, "Expiration")) << result.error().message;
    EXPECT_FALSE(contains(result.error().message, "hg3A2EBe38xGmi0wWcU4doD3wrK8gZ1tWvRLUh/w"));
}

TEST(parse_json_credentials, instance_metadata_and_container_answers) {
    // moto's instance metadata answer.
    auto credentials = parse_json_credentials(
        R"({"AccessKeyId": "test-key", "SecretAccessKey": "test-secret-key", "Token": "test-session-token", )"
        R"("Expiration": "2026-11-30T03:29:44Z"})");
    ASSERT_TRUE(credentials) << credentials.error().message;
    EXPECT_EQ(credentials->access_key_id, "test-key");
    EXPECT_EQ(credentials->session_token, "test-session-token");
    EXPECT_EQ(credentials->expiration, utc(2026, 11, 30, 3, 29, 44));

    // Real instance metadata, with Code; a container answer with RoleArn and AccountId.
    credentials = parse_json_credentials(
        R"({"Code":"Success","LastUpdated":"2026-11-29T03:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIA1",)"
        R"("SecretAccessKey":"s","Token":"t","Expiration":"2026-11-29T09:00:00Z"})");
    ASSERT_TRUE(credentials);
    credentials = parse_json_credentials(
        R"({"RoleArn":"arn:aws:iam::1:role/task","AccessKeyId":"ASIA2","SecretAccessKey":"s","Token":"t",)"
        R"("Expiration":"2026-11-29T09:00:00Z","AccountId":"123456789012"})");
    ASSERT_TRUE(credentials);
    EXPECT_EQ(credentials->access_key_id, "ASIA2");

    // Without Token and Expiration (a long-term key pair served by a local endpoint).
    credentials = parse_json_credentials(R"({"AccessKeyId":"AKIA3","SecretAccessKey":"s","Token":""})");
    ASSERT_TRUE(credentials);
    EXPECT_EQ(credentials->session_token, "");
    EXPECT_FALSE(credentials->expiration);
}

TEST(parse_json_credentials, failures) {
    auto code = parse_json_credentials(R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"no trust"})");
    ASSERT_FALSE(code);
    EXPECT_TRUE(contains(code.error().message, "AssumeRoleUnauthorizedAccess")) << code.error().message;
    EXPECT_TRUE(contains(code.error().message, "no trust")) << code.error().message;

    for (auto body : {"", "not json", "[]", R"({"SecretAccessKey":"s"})", R"({"AccessKeyId":"A"})",
                      R"({"AccessKeyId":5,"SecretAccessKey":"s"})",
                      R"({"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"soon"})"}) {
        auto result = parse_json_credentials(body);
        ASSERT_FALSE(result) << body;
        EXPECT_EQ(result.error().kind, failure_kind::bad_response);
    }
    auto result = parse_json_credentials(R"({"AccessKeyId":"A","SecretAccessKey":"very-secret","Token":7})");
    ASSERT_FALSE(result);
    EXPECT_FALSE(contains(result.error().message, "very-secret"));
}

TEST(sts_bodies, form_encoded) {
    EXPECT_EQ(assume_role_body("arn:aws:iam::1:role/a b", "s+1", ""),
              "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b&RoleSessionName=s%2B1");
    EXPECT_EQ(assume_role_body("r", "s", "ext=1"),
              "Action=AssumeRole&Version=2011-06-15&RoleArn=r&RoleSessionName=s&ExternalId=ext%3D1");
    EXPECT_EQ(web_identity_body("r", "s", "eyJ.a-b_c~"),
              "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=r&RoleSessionName=s&WebIdentityToken=eyJ.a-b_c~");
    EXPECT_EQ(generated_session_name(system_clock::time_point{seconds{1700000000}}),
              "rancher-ecr-credentials-1700000000");
}

TEST(assess_credentials, refresh_ahead_of_the_expiration) {
    auto const now = utc(2026, 11, 29, 12, 0, 0);
    EXPECT_EQ(assess_credentials(now, std::nullopt), credential_state::fresh);  // long-term keys
    EXPECT_EQ(assess_credentials(now, now + 1h), credential_state::fresh);
    EXPECT_EQ(assess_credentials(now, now + 15min + 1s), credential_state::fresh);
    // At least ten minutes ahead, as the SDKs do: from 15 minutes before.
    EXPECT_EQ(assess_credentials(now, now + 15min), credential_state::refresh_due);
    EXPECT_EQ(assess_credentials(now, now + 10min), credential_state::refresh_due);
    EXPECT_EQ(assess_credentials(now, now + 61s), credential_state::refresh_due);
    // Within the last minute they are no longer used.
    EXPECT_EQ(assess_credentials(now, now + 60s), credential_state::expired);
    EXPECT_EQ(assess_credentials(now, now - 1h), credential_state::expired);
    EXPECT_GE(credential_refresh_ahead, 10min);
}

}  // namespace
}  // namespace rancher_ecr
