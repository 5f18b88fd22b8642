#include "aws/ecr_token.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

std::string base64(std::string_view raw) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < raw.size(); i += 3) {
        std::uint32_t group = static_cast<unsigned char>(raw[i]) << 16;
        if (i + 1 < raw.size()) group |= static_cast<unsigned char>(raw[i + 1]) << 8;
        if (i + 2 < raw.size()) group |= static_cast<unsigned char>(raw[i + 2]);
        out += alphabet[(group >> 18) & 63];
        out += alphabet[(group >> 12) & 63];
        out += i + 1 < raw.size() ? alphabet[(group >> 6) & 63] : '=';
        out += i + 2 < raw.size() ? alphabet[group & 63] : '=';
    }
    return out;
}

std::string entry(std::string_view token, std::string_view expires,
                  std::string_view endpoint = "\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com\"") {
    return "{\"authorizationToken\":\"" + std::string(token) + "\",\"expiresAt\":" + std::string(expires) +
           ",\"proxyEndpoint\":" + std::string(endpoint) + "}";
}

std::string response(std::string_view entries) {
    return "{\"authorizationData\":[" + std::string(entries) + "]}";
}

system_clock::time_point epoch_seconds(std::int64_t seconds) {
    return system_clock::time_point(std::chrono::seconds(seconds));
}

// Expects a bad_response failure whose message contains `needle`; returns the message.
std::string expect_malformed(std::string_view body, std::string_view needle) {
    auto parsed = parse_authorization_response(body);
    EXPECT_FALSE(parsed) << "accepted: " << body.substr(0, 200);
    if (parsed) return {};
    EXPECT_EQ(parsed.error().kind, failure_kind::bad_response);
    EXPECT_NE(parsed.error().message.find(needle), std::string::npos)
        << "message: " << parsed.error().message << "\nexpected to contain: " << needle;
    return parsed.error().message;
}

// --- the request body ---

TEST(authorization_request_body, is_empty_object_without_registry_ids) {
    EXPECT_EQ(authorization_request_body({}), "{}");
}

TEST(authorization_request_body, lists_registry_ids) {
    EXPECT_EQ(authorization_request_body({"123456789012", "210987654321"}),
              R"({"registryIds":["123456789012","210987654321"]})");
}

// --- good answers ---

TEST(parse_authorization_response, reads_the_spec_example) {
    auto parsed = parse_authorization_response(
        R"({"authorizationData":[{"authorizationToken":"QVdTOnBhc3N3b3Jk","expiresAt":1738598491.5,)"
        R"("proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]})");
    ASSERT_TRUE(parsed) << describe(parsed.error());
    ASSERT_EQ(parsed->size(), 1u);
    auto const& auth = parsed->front();
    EXPECT_EQ(auth.registry_host, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    EXPECT_EQ(auth.username, "AWS");
    EXPECT_EQ(auth.password, "password");
    EXPECT_EQ(auth.expires_at, epoch_seconds(1738598491) + 500ms);
}

TEST(parse_authorization_response, reads_every_expires_at_form) {
    struct form {
        std::string_view json;
        system_clock::time_point expected;
    };
    std::vector<form> const forms{
        {"1738598491", epoch_seconds(1738598491)},
        {"1738598491.5", epoch_seconds(1738598491) + 500ms},
        {"1.7385984915E9", epoch_seconds(1738598491) + 500ms},
        {"1.7385984915e+9", epoch_seconds(1738598491) + 500ms},
        {"1738598491.250", epoch_seconds(1738598491) + 250ms},
        {"1.43E9", epoch_seconds(1430000000)},  // moto's fixed date in 2015
        {"0", epoch_seconds(0)},
    };
    for (auto const& f : forms) {
        auto parsed = parse_authorization_response(response(entry(base64("AWS:pw"), f.json)));
        ASSERT_TRUE(parsed) << f.json << ": " << describe(parsed.error());
        EXPECT_EQ(parsed->front().expires_at, f.expected) << f.json;
    }
}

TEST(parse_authorization_response, reads_several_entries_in_order) {
    auto body = response(entry(base64("AWS:first"), "1738598491", "\"https://111111111111.dkr.ecr.eu-west-1.amazonaws.com\"") +
                         "," +
                         entry(base64("AWS:second"), "1.7385984915E9", "\"https://222222222222.dkr.ecr.eu-west-1.amazonaws.com\""));
    auto parsed = parse_authorization_response(body);
    ASSERT_TRUE(parsed) << describe(parsed.error());
    ASSERT_EQ(parsed->size(), 2u);
    EXPECT_EQ((*parsed)[0].registry_host, "111111111111.dkr.ecr.eu-west-1.amazonaws.com");
    EXPECT_EQ((*parsed)[0].password, "first");
    EXPECT_EQ((*parsed)[1].registry_host, "222222222222.dkr.ecr.eu-west-1.amazonaws.com");
    EXPECT_EQ((*parsed)[1].password, "second");
}

TEST(parse_authorization_response, splits_the_token_at_the_first_colon) {
    auto parsed = parse_authorization_response(response(entry(base64("AWS:pa:ss:word"), "1738598491")));
    ASSERT_TRUE(parsed) << describe(parsed.error());
    EXPECT_EQ(parsed->front().username, "AWS");
    EXPECT_EQ(parsed->front().password, "pa:ss:word");
}

TEST(parse_authorization_response, accepts_a_password_of_kilobytes) {
    std::string password;
    for (int i = 0; password.size() < 8000; ++i) password += "eyJwYXlsb2FkIjoi" + std::to_string(i);
    // Exercise each padding length.
    for (std::size_t trim = 0; trim < 3; ++trim) {
        std::string const pw = password.substr(0, password.size() - trim);
        auto parsed = parse_authorization_response(response(entry(base64("AWS:" + pw), "1738598491")));
        ASSERT_TRUE(parsed) << describe(parsed.error());
        EXPECT_EQ(parsed->front().password, pw);
    }
}

TEST(parse_authorization_response, reads_moto_answer) {
    // Exactly what moto 5.2.1 answers (tests/support/aws_stand_in.py): a date in 2015, in the past.
    auto parsed = parse_authorization_response(
        R"({"authorizationData": [{"authorizationToken": "QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu", "expiresAt": 1420070400, )"
        R"("proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]})");
    ASSERT_TRUE(parsed) << describe(parsed.error());
    EXPECT_EQ(parsed->front().username, "AWS");
    EXPECT_EQ(parsed->front().password, "123456789012-auth-token");
    EXPECT_EQ(parsed->front().expires_at, epoch_seconds(1420070400));
    EXPECT_EQ(parsed->front().registry_host, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
}

TEST(parse_authorization_response, takes_host_and_port_of_the_proxy_endpoint) {
    struct form {
        std::string_view json;
        std::string_view host;
    };
    std::vector<form> const forms{
        {R"("https://123456789012.dkr.ecr.us-east-1.amazonaws.com")", "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
        {R"("HTTPS://123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM/")", "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
        {R"("https://123456789012.dkr.ecr.us-east-1.amazonaws.com:443")", "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
        {R"("https://registry.local:5000")", "registry.local:5000"},
        {R"("http://127.0.0.1:5123")", "127.0.0.1:5123"},
        {R"("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"},
        {R"("Registry.Local:5000")", "registry.local:5000"},
    };
    for (auto const& f : forms) {
        auto parsed = parse_authorization_response(response(entry(base64("AWS:pw"), "1738598491", f.json)));
        ASSERT_TRUE(parsed) << f.json << ": " << describe(parsed.error());
        EXPECT_EQ(parsed->front().registry_host, f.host) << f.json;
    }
}

TEST(parse_authorization_response, ignores_unknown_fields) {
    auto parsed = parse_authorization_response(
        R"({"authorizationData":[{"extra":[1,{"a":null}],"authorizationToken":"QVdTOnBhc3N3b3Jk","expiresAt":1738598491,)"
        R"("proxyEndpoint":"https://r.example"}],"nextToken":null})");
    ASSERT_TRUE(parsed) << describe(parsed.error());
    EXPECT_EQ(parsed->front().registry_host, "r.example");
}

// --- hostile answers ---

TEST(parse_authorization_response, refuses_empty_and_broken_bodies) {
    expect_malformed("", "the body is empty");
    expect_malformed("   ", "not valid JSON");
    expect_malformed(R"({"authorizationData":[{"authorizationToken":"QVdTOnBhc3N3b3Jk")", "not valid JSON");
    expect_malformed("{\"authorizationData\":[", "not valid JSON");
    expect_malformed("<html>502</html>", "not valid JSON");
    expect_malformed(std::string("{\"a\":\0}", 7), "not valid JSON");
    expect_malformed(R"({"authorizationData":[]} trailing)", "not valid JSON");
    // Nesting beyond the parser's depth limit is an error, not a stack overflow.
    expect_malformed(std::string(100000, '[') + std::string(100000, ']'), "not valid JSON");
}

TEST(parse_authorization_response, refuses_a_huge_body) {
    std::string const huge = response(entry(base64("AWS:" + std::string(max_authorization_response_size, 'x')), "1"));
    expect_malformed(huge, "more than the 1048576 accepted");
}

TEST(parse_authorization_response, refuses_a_root_that_is_not_an_object) {
    expect_malformed("[]", "expected a JSON object, got an array");
    expect_malformed("null", "expected a JSON object, got null");
    expect_malformed("\"authorizationData\"", "expected a JSON object, got a string");
    expect_malformed("42", "expected a JSON object, got a number");
    expect_malformed("true", "expected a JSON object, got a boolean");
}

TEST(parse_authorization_response, refuses_a_missing_empty_or_mistyped_list) {
    expect_malformed("{}", "authorizationData is missing");
    expect_malformed(R"({"AuthorizationData":[]})", "authorizationData is missing");
    expect_malformed(R"({"authorizationData":[]})", "authorizationData is empty");
    expect_malformed(R"({"authorizationData":{}})", "authorizationData: expected an array, got an object");
    expect_malformed(R"({"authorizationData":null})", "authorizationData: expected an array, got null");
    expect_malformed(R"({"authorizationData":"x"})", "authorizationData: expected an array, got a string");
}

TEST(parse_authorization_response, refuses_entries_of_the_wrong_type) {
    expect_malformed(response("null"), "authorizationData[0]: expected an object, got null");
    expect_malformed(response("[]"), "authorizationData[0]: expected an object, got an array");
    expect_malformed(response(entry(base64("AWS:pw"), "1") + ",7"), "authorizationData[1]: expected an object, got a number");
}

TEST(parse_authorization_response, refuses_missing_or_mistyped_fields) {
    expect_malformed(response(R"({"expiresAt":1,"proxyEndpoint":"https://r"})"),
                     "authorizationData[0].authorizationToken is missing");
    expect_malformed(response(R"({"authorizationToken":"QVdTOnBhc3N3b3Jk","proxyEndpoint":"https://r"})"),
                     "authorizationData[0].expiresAt is missing");
    expect_malformed(response(R"({"authorizationToken":"QVdTOnBhc3N3b3Jk","expiresAt":1})"),
                     "authorizationData[0].proxyEndpoint is missing");
    expect_malformed(response(R"({"authorizationToken":42,"expiresAt":1,"proxyEndpoint":"https://r"})"),
                     "authorizationData[0].authorizationToken: expected a string, got a number");
    expect_malformed(response(R"({"authorizationToken":["QVdTOnBhc3N3b3Jk"],"expiresAt":1,"proxyEndpoint":"https://r"})"),
                     "authorizationData[0].authorizationToken: expected a string, got an array");
    expect_malformed(response(R"({"authorizationToken":"QVdTOnBhc3N3b3Jk","expiresAt":1,"proxyEndpoint":{}})"),
                     "authorizationData[0].proxyEndpoint: expected a string, got an object");
    expect_malformed(response(R"({"authorizationToken":"QVdTOnBhc3N3b3Jk","expiresAt":1,"proxyEndpoint":null})"),
                     "authorizationData[0].proxyEndpoint: expected a string, got null");
}

TEST(parse_authorization_response, refuses_bad_expires_at) {
    auto const token = base64("AWS:pw");
    expect_malformed(response(entry(token, "\"1738598491\"")), "expiresAt expected epoch seconds as a number, got a string");
    expect_malformed(response(entry(token, "null")), "expiresAt expected epoch seconds as a number, got null");
    expect_malformed(response(entry(token, "true")), "expiresAt expected epoch seconds as a number, got a boolean");
    expect_malformed(response(entry(token, "{}")), "expiresAt expected epoch seconds as a number, got an object");
    expect_malformed(response(entry(token, "-1")), "expiresAt is negative");
    expect_malformed(response(entry(token, "-1.5")), "expiresAt is negative");
    expect_malformed(response(entry(token, "-1e3")), "expiresAt is negative");
    expect_malformed(response(entry(token, "1e400")), "expiresAt is not a finite number");
    expect_malformed(response(entry(token, "-1e400")), "expiresAt is not a finite number");
    expect_malformed(response(entry(token, "1e18")), "expiresAt is after the year 2200");
    expect_malformed(response(entry(token, "9223372036854775807")), "expiresAt is after the year 2200");
    expect_malformed(response(entry(token, "18446744073709551615")), "expiresAt is after the year 2200");
    expect_malformed(response(entry(token, "99999999999999999999999")), "expiresAt is after the year 2200");
    expect_malformed(response(entry(token, "NaN")), "not valid JSON");
    expect_malformed(response(entry(token, "Infinity")), "not valid JSON");
}

TEST(parse_authorization_response, refuses_bad_proxy_endpoints) {
    auto const token = base64("AWS:pw");
    expect_malformed(response(entry(token, "1", "\"\"")), "proxyEndpoint is empty");
    expect_malformed(response(entry(token, "1", "\"ftp://r.example\"")), "proxyEndpoint is not a URL or host name");
    expect_malformed(response(entry(token, "1", "\"https://\"")), "proxyEndpoint is not a URL or host name");
    expect_malformed(response(entry(token, "1", "\"https://r.example:99999\"")), "proxyEndpoint is not a URL or host name");
    expect_malformed(response(entry(token, "1", "\"https://user:pw@r.example\"")), "proxyEndpoint is not a URL or host name");
    // The excerpt of a hostile value is short and printable.
    auto message = expect_malformed(response(entry(token, "1", "\"ftp://" + std::string(5000, 'a') + "\\u0007\"")),
                                    "proxyEndpoint is not a URL or host name");
    EXPECT_LT(message.size(), 300u);
}

TEST(parse_authorization_response, refuses_bad_tokens) {
    expect_malformed(response(entry("", "1")), "authorizationToken is empty");
    expect_malformed(response(entry("QVdTOnBhc3N3b3Jk=", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry("QVdTOnBhc3N3b3J", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry("QVdTOnBhc3N3b3Jk\\n", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry(" QVdTOnBhc3N3b3Jk", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry("QVdTOnBhc3N3b3-_", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry("QVdT=nBhc3N3b3Jk", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry("QVdTOnBhc3N3b3=k", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry("QVdTOnBhc3N3b===", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry("====", "1")), "authorizationToken is not valid base64");
    expect_malformed(response(entry(base64("AWSpassword"), "1")), "authorizationToken does not decode to user:password");
    expect_malformed(response(entry(base64(":password"), "1")), "authorizationToken decodes to an empty user name");
    expect_malformed(response(entry(base64("AWS:"), "1")), "authorizationToken decodes to an empty password");
    expect_malformed(response(entry(base64("AWS:pass\r\nword"), "1")), "control characters");
    expect_malformed(response(entry(base64(std::string("AWS:pa\0ss", 9)), "1")), "control characters");
}

TEST(parse_authorization_response, names_the_entry_that_is_wrong) {
    auto body = response(entry(base64("AWS:good"), "1") + "," + entry(base64("AWS:good"), "1") + "," +
                         entry("not base64!", "1"));
    expect_malformed(body, "authorizationData[2].authorizationToken is not valid base64");
}

TEST(parse_authorization_response, never_quotes_the_token_or_the_password) {
    std::string const password = "SeCrEtPaSsWoRd-0123456789";
    std::string const token = base64("AWS:" + password);
    std::vector<std::string> const bodies{
        response(entry(token, "\"soon\"")),
        response(entry(token, "-5")),
        response(entry(token, "1e400")),
        response(entry(token, "1", "\"ftp://x\"")),
        response(entry(token, "1", "42")),
        response(entry(token, "1") + ",null"),
        response(entry(token + "A", "1")),
        response(entry(token.substr(0, 20) + "!" + token.substr(21), "1")),
        response(entry(base64(password), "1")),
        response(entry(base64(":" + password), "1")),
        response(entry(base64("AWS:" + password + "\n"), "1")),
        response(entry(token, "1")).substr(0, 60),
    };
    for (auto const& body : bodies) {
        auto parsed = parse_authorization_response(body);
        ASSERT_FALSE(parsed) << body;
        auto const text = describe(parsed.error());
        EXPECT_EQ(text.find(password), std::string::npos) << text;
        EXPECT_EQ(text.find(token.substr(0, 12)), std::string::npos) << text;
        EXPECT_EQ(text.find(token.substr(token.size() - 12)), std::string::npos) << text;
    }
}

TEST(parse_authorization_response, bad_responses_are_not_retryable_by_themselves) {
    auto parsed = parse_authorization_response("{}");
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().kind, failure_kind::bad_response);
    EXPECT_EQ(parsed.error().http_status, 0);
    EXPECT_FALSE(parsed.error().retryable);
}

// --- AWS errors ---

constexpr std::string_view operation = "ECR GetAuthorizationToken at api.ecr.us-east-1.amazonaws.com";

TEST(parse_aws_error, reads_json_errors) {
    auto f = parse_aws_error(400,
                             R"({"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."})",
                             operation);
    EXPECT_EQ(f.kind, failure_kind::service);
    EXPECT_EQ(f.code, "UnrecognizedClientException");
    EXPECT_EQ(f.http_status, 400);
    EXPECT_FALSE(f.retryable);
    EXPECT_EQ(f.message.rfind(std::string(operation) + " failed: The security token included in the request is invalid.", 0), 0u)
        << f.message;
    EXPECT_NE(f.message.find("access key ID is not known"), std::string::npos) << f.message;
}

TEST(parse_aws_error, strips_the_type_prefix_and_reads_either_message_key) {
    auto f = parse_aws_error(
        400, R"({"__type":"com.amazonaws.ecr#InvalidSignatureException","Message":"Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z"})",
        operation);
    EXPECT_EQ(f.code, "InvalidSignatureException");
    EXPECT_NE(f.message.find("Signature expired"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("check the system clock"), std::string::npos) << f.message;
    EXPECT_FALSE(f.retryable);

    auto g = parse_aws_error(400, R"({"__type":"a.b#c.d#AccessDeniedException","message":"not allowed"})", operation);
    EXPECT_EQ(g.code, "AccessDeniedException");
    EXPECT_NE(g.message.find("not allowed"), std::string::npos);
    EXPECT_NE(g.message.find("lacks permission"), std::string::npos);

    auto h = parse_aws_error(400, R"({"__type":"ThrottlingException:http://internal.amazon.com/","message":"Rate exceeded"})", operation);
    EXPECT_EQ(h.code, "ThrottlingException");
    EXPECT_TRUE(h.retryable);
}

TEST(parse_aws_error, reads_json_errors_without_message) {
    auto f = parse_aws_error(400, R"({"__type":"ExpiredTokenException"})", operation);
    EXPECT_EQ(f.code, "ExpiredTokenException");
    EXPECT_NE(f.message.find("failed: ExpiredTokenException"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("session credentials have expired"), std::string::npos) << f.message;
    EXPECT_FALSE(f.retryable);
}

// Exactly what moto 5.2.1 answers, with HTTP 403 (tests/support/aws_stand_in.py).
std::string moto_error(std::string_view code, std::string_view message) {
    return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error><Code>" + std::string(code) +
           "</Code><Message>" + std::string(message) + "</Message><Type>Sender</Type></Error></Errors></ErrorResponse>";
}

TEST(parse_aws_error, reads_moto_xml_errors) {
    auto f = parse_aws_error(403,
                             moto_error("SignatureDoesNotMatch",
                                        "The request signature we calculated does not match the signature you provided. "
                                        "Check your AWS Secret Access Key and signing method. Consult the service "
                                        "documentation for details."),
                             operation);
    EXPECT_EQ(f.kind, failure_kind::service);
    EXPECT_EQ(f.code, "SignatureDoesNotMatch");
    EXPECT_EQ(f.http_status, 403);
    EXPECT_FALSE(f.retryable);
    EXPECT_NE(f.message.find("failed: The request signature we calculated does not match"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("check the secret access key"), std::string::npos) << f.message;
    EXPECT_EQ(f.message.find("<"), std::string::npos) << f.message;

    auto g = parse_aws_error(403, moto_error("InvalidClientTokenId", "The security token included in the request is invalid."),
                             operation);
    EXPECT_EQ(g.code, "InvalidClientTokenId");
    EXPECT_NE(g.message.find("access key ID is not known"), std::string::npos) << g.message;
    EXPECT_FALSE(g.retryable);

    auto h = parse_aws_error(403,
                             moto_error("AccessDenied",
                                        "User: arn:aws:iam::123456789012:user/ecr-denied is not authorized to perform: "
                                        "ecr:GetAuthorizationToken"),
                             operation);
    EXPECT_EQ(h.code, "AccessDenied");
    EXPECT_EQ(describe(h), std::string(operation) +
                               " failed: User: arn:aws:iam::123456789012:user/ecr-denied is not authorized to perform: "
                               "ecr:GetAuthorizationToken; the identity lacks permission for this call "
                               "(HTTP 403, AccessDenied; the operator must act)");
}

TEST(parse_aws_error, reads_cdata_messages) {
    auto f = parse_aws_error(400, "<Error><Code>Throttling</Code><Message><![CDATA[Rate <exceeded>]]></Message></Error>", operation);
    EXPECT_EQ(f.code, "Throttling");
    EXPECT_NE(f.message.find("failed: Rate <exceeded>"), std::string::npos) << f.message;
    EXPECT_TRUE(f.retryable);
}

TEST(parse_aws_error, reads_query_protocol_and_s3_xml_errors) {
    auto f = parse_aws_error(403,
                             "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
                             "<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>"
                             "</Error><RequestId>abc</RequestId></ErrorResponse>",
                             "STS AssumeRole at sts.us-east-1.amazonaws.com");
    EXPECT_EQ(f.code, "InvalidClientTokenId");
    EXPECT_EQ(f.message.rfind("STS AssumeRole at sts.us-east-1.amazonaws.com failed: The security token", 0), 0u) << f.message;
    EXPECT_FALSE(f.retryable);

    auto g = parse_aws_error(400,
                             "<?xml version=\"1.0\"?><Error><Code>RequestTimeout</Code><Message>Your socket connection &amp; "
                             "&lt;stuff&gt; timed out</Message></Error>",
                             operation);
    EXPECT_EQ(g.code, "RequestTimeout");
    EXPECT_NE(g.message.find("Your socket connection & <stuff> timed out"), std::string::npos) << g.message;
    EXPECT_TRUE(g.retryable);
}

TEST(parse_aws_error, decides_retries_in_one_place) {
    EXPECT_TRUE(is_retryable_aws_error(429, ""));
    EXPECT_TRUE(is_retryable_aws_error(400, "ThrottlingException"));
    EXPECT_TRUE(is_retryable_aws_error(400, "Throttling"));
    EXPECT_TRUE(is_retryable_aws_error(400, "TooManyRequestsException"));
    EXPECT_TRUE(is_retryable_aws_error(503, "RequestLimitExceeded"));
    EXPECT_TRUE(is_retryable_aws_error(400, "RequestLimitExceeded"));
    EXPECT_TRUE(is_retryable_aws_error(400, "RequestTimeout"));
    EXPECT_TRUE(is_retryable_aws_error(500, "ServerException"));
    EXPECT_TRUE(is_retryable_aws_error(502, ""));
    EXPECT_TRUE(is_retryable_aws_error(503, ""));
    EXPECT_TRUE(is_retryable_aws_error(504, ""));
    EXPECT_FALSE(is_retryable_aws_error(400, "UnrecognizedClientException"));
    EXPECT_FALSE(is_retryable_aws_error(400, "InvalidSignatureException"));
    EXPECT_FALSE(is_retryable_aws_error(403, "SignatureDoesNotMatch"));
    EXPECT_FALSE(is_retryable_aws_error(403, "InvalidClientTokenId"));
    EXPECT_FALSE(is_retryable_aws_error(403, "AccessDenied"));
    EXPECT_FALSE(is_retryable_aws_error(400, "AccessDeniedException"));
    EXPECT_FALSE(is_retryable_aws_error(400, "ExpiredTokenException"));
    EXPECT_FALSE(is_retryable_aws_error(400, "LimitExceededException"));
    EXPECT_FALSE(is_retryable_aws_error(404, ""));
    EXPECT_FALSE(is_retryable_aws_error(400, "throttlingexception"));  // AWS codes are case-sensitive

    EXPECT_TRUE(parse_aws_error(429, "", operation).retryable);
    EXPECT_TRUE(parse_aws_error(500, R"({"__type":"ServerException","message":"oops"})", operation).retryable);
    EXPECT_TRUE(parse_aws_error(400, R"({"__type":"TooManyRequestsException","message":"slow down"})", operation).retryable);
    EXPECT_FALSE(parse_aws_error(400, R"({"__type":"AccessDeniedException","message":"no"})", operation).retryable);
}

TEST(parse_aws_error, describes_bodies_of_neither_form) {
    auto f = parse_aws_error(502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\n<body>\x01\xff</body></html>", operation);
    EXPECT_EQ(f.kind, failure_kind::service);
    EXPECT_EQ(f.http_status, 502);
    EXPECT_TRUE(f.code.empty());
    EXPECT_TRUE(f.retryable);
    EXPECT_EQ(f.message, std::string(operation) +
                             " failed with an unrecognised answer: \"<html> <head><title>502 Bad Gateway</title></head> "
                             "<body>?" "?</body></html>\"");

    auto g = parse_aws_error(403, "", operation);
    EXPECT_EQ(g.message, std::string(operation) + " failed with an empty answer");
    EXPECT_FALSE(g.retryable);
    EXPECT_EQ(describe(g), std::string(operation) + " failed with an empty answer (HTTP 403; the operator must act)");

    auto h = parse_aws_error(400, R"({"unexpected":true})", operation);
    EXPECT_NE(h.message.find("unrecognised answer: \"{\"unexpected\":true}\""), std::string::npos) << h.message;

    auto i = parse_aws_error(400, "{\"__type\":\"Trunc", operation);
    EXPECT_NE(i.message.find("unrecognised answer"), std::string::npos) << i.message;
    EXPECT_TRUE(i.code.empty());

    auto j = parse_aws_error(400, "<Error><Code>Unterminated", operation);
    EXPECT_NE(j.message.find("unrecognised answer"), std::string::npos) << j.message;
}

TEST(parse_aws_error, bounds_what_a_hostile_body_can_put_in_a_message) {
    std::string const long_text(100000, 'x');
    auto f = parse_aws_error(500, long_text, operation);
    EXPECT_LT(f.message.size(), operation.size() + 300);

    auto g = parse_aws_error(400, R"({"__type":")" + long_text + R"(","message":")" + long_text + "\\u0000\\n\"}", operation);
    EXPECT_LE(g.code.size(), 70u);
    EXPECT_LT(g.message.size(), operation.size() + 400);
    EXPECT_EQ(g.message.find('\n'), std::string::npos);
    EXPECT_EQ(g.message.find('\0'), std::string::npos);

    auto h = parse_aws_error(400, R"({"__type":42,"message":["x"]})", operation);
    EXPECT_NE(h.message.find("unrecognised answer"), std::string::npos) << h.message;

    auto i = parse_aws_error(400, std::string(100000, '{'), operation);
    EXPECT_NE(i.message.find("unrecognised answer"), std::string::npos);

    auto k = parse_aws_error(400, std::string("<Error><Code>A\r\nB</Code><Message>line1\r\nline2\x7f</Message></Error>"), operation);
    EXPECT_EQ(k.code, "A B");
    EXPECT_NE(k.message.find("line1 line2?"), std::string::npos) << k.message;
}

TEST(parse_aws_error, names_a_default_operation) {
    auto f = parse_aws_error(503, "", "");
    EXPECT_EQ(f.message, "AWS request failed with an empty answer");
    EXPECT_TRUE(f.retryable);
}

}  // namespace
}  // namespace rancher_ecr
