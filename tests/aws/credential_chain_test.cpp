// Which provider of the chain applies, given the environment and the shared files: pure decisions.
#include "aws/credential_chain.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using variables = std::map<std::string, std::string, std::less<>>;

constexpr char const* secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char const* role = "arn:aws:iam::123456789012:role/ecr-reader";

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Profiles as both files would give them: `config` and `credentials` are the files' texts.
shared_profiles profiles_from(std::string const& config, std::string const& credentials = {},
                              std::string selected = "default", bool explicitly = false) {
    shared_profiles profiles;
    profiles.profiles = merge_profiles(parse_ini(config), parse_ini(credentials));
    profiles.config_file = "/home/u/.aws/config";
    profiles.credentials_file = "/home/u/.aws/credentials";
    profiles.selected = std::move(selected);
    profiles.selected_explicitly = explicitly;
    return profiles;
}

result<credential_plan> plan(variables vars, shared_profiles const& profiles = profiles_from("")) {
    return plan_credentials(environment_from(std::move(vars)), profiles);
}

credential_plan planned(variables vars, shared_profiles const& profiles = profiles_from("")) {
    auto result = plan(std::move(vars), profiles);
    if (!result) {
        ADD_FAILURE() << result.error().message;
        return {};
    }
    return *result;
}

std::string failure_of(variables vars, shared_profiles const& profiles = profiles_from("")) {
    auto result = plan(std::move(vars), profiles);
    if (result) {
        ADD_FAILURE() << "expected a failure, got " << describe(*result);
        return {};
    }
    EXPECT_EQ(result.error().kind, failure_kind::config);
    EXPECT_FALSE(contains(result.error().message, secret)) << result.error().message;
    return result.error().message;
}

variables const environment_keys{{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", secret}};
variables const web_identity_settings{{"AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"}, {"AWS_ROLE_ARN", role}};
variables const container_settings{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"}};
std::string const profile_keys = "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n";

variables merged(std::initializer_list<variables> parts) {
    variables all;
    for (auto const& part : parts) all.insert(part.begin(), part.end());
    return all;
}

template <class T>
T const& base_as(credential_plan const& p) {
    return std::get<T>(p.base);
}

// --- precedence ---

TEST(plan_credentials, environment_keys_come_first) {
    auto p = planned(merged({environment_keys, web_identity_settings, container_settings}), profiles_from(profile_keys));
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.access_key_id, "AKIDENV");
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.source, "environment");
    EXPECT_TRUE(p.roles.empty());  // AWS_ROLE_ARN belongs to the web identity here
    EXPECT_TRUE(p.passed_over.empty());
    EXPECT_FALSE(p.last_resort);
}

TEST(plan_credentials, web_identity_before_profile_and_container) {
    auto vars = merged({web_identity_settings, container_settings, {{"AWS_ROLE_SESSION_NAME", "my-session"}}});
    auto p = planned(vars, profiles_from(profile_keys));
    auto const& identity = base_as<web_identity>(p);
    EXPECT_EQ(identity.token_file, "/var/run/token");
    EXPECT_EQ(identity.role_arn, role);
    EXPECT_EQ(identity.session_name, "my-session");
    EXPECT_TRUE(p.roles.empty());
    ASSERT_EQ(p.passed_over.size(), 1u);
    EXPECT_TRUE(contains(p.passed_over[0], "AWS_ACCESS_KEY_ID")) << p.passed_over[0];
    EXPECT_EQ(describe(p), std::string{"web identity (role "} + role + ")");
}

TEST(plan_credentials, profile_before_container) {
    auto p = planned(container_settings, profiles_from(profile_keys));
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.access_key_id, "AKIDFILE");
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.source, "profile default");
    EXPECT_EQ(p.passed_over.size(), 2u);
}

TEST(plan_credentials, container_before_instance_metadata) {
    auto p = planned(container_settings);
    auto const& container = base_as<container_endpoint>(p);
    EXPECT_EQ(container.endpoint.text(), "http://169.254.170.2/v2/credentials/abc");
    EXPECT_EQ(container.authorization_token, "");
    ASSERT_EQ(p.passed_over.size(), 3u);
    EXPECT_TRUE(contains(p.passed_over[1], "AWS_WEB_IDENTITY_TOKEN_FILE"));
    EXPECT_TRUE(contains(p.passed_over[2], "no profile \"default\"")) << p.passed_over[2];
}

TEST(plan_credentials, instance_metadata_is_the_last_resort) {
    auto p = planned({});
    auto const& metadata = base_as<instance_metadata>(p);
    EXPECT_EQ(metadata.endpoint.text(), "http://169.254.169.254/");
    EXPECT_TRUE(metadata.v1_fallback);
    EXPECT_TRUE(p.last_resort);
    ASSERT_EQ(p.passed_over.size(), 4u);
    EXPECT_TRUE(contains(p.passed_over[3], "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
}

TEST(plan_credentials, nothing_anywhere_lists_every_provider_and_why) {
    auto message = failure_of({{"AWS_EC2_METADATA_DISABLED", "TRUE"}});
    for (auto part : {"no AWS credentials found", "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
                      "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is not set", "shared files: no profile \"default\" in "
                      "/home/u/.aws/credentials or /home/u/.aws/config",
                      "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI",
                      "instance metadata: disabled by AWS_EC2_METADATA_DISABLED"})
        EXPECT_TRUE(contains(message, part)) << part << " not in: " << message;
    EXPECT_FALSE(contains(message, "\n"));
}

TEST(plan_credentials, empty_variables_count_as_unset) {
    auto p = planned({{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}, {"AWS_WEB_IDENTITY_TOKEN_FILE", ""},
                      {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ""}, {"AWS_ROLE_ARN", ""}});
    EXPECT_TRUE(std::holds_alternative<instance_metadata>(p.base));
    EXPECT_TRUE(p.roles.empty());
}

// --- AWS_ROLE_ARN without a web identity token ---

TEST(plan_credentials, role_arn_alone_is_assumed_with_what_the_chain_finds) {
    auto p = planned(merged({environment_keys, {{"AWS_ROLE_ARN", role}, {"AWS_ROLE_SESSION_NAME", "s"}}}));
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.source, "environment");
    ASSERT_EQ(p.roles.size(), 1u);
    EXPECT_EQ(p.roles[0].role_arn, role);
    EXPECT_EQ(p.roles[0].session_name, "s");
    EXPECT_EQ(p.roles[0].origin, "AWS_ROLE_ARN");
    EXPECT_EQ(describe(p), std::string{"role "} + role + " (AWS_ROLE_ARN) assumed with environment");

    p = planned(merged({container_settings, {{"AWS_ROLE_ARN", role}}}));
    EXPECT_TRUE(std::holds_alternative<container_endpoint>(p.base));
    ASSERT_EQ(p.roles.size(), 1u);

    p = planned({{"AWS_ROLE_ARN", role}});
    EXPECT_TRUE(std::holds_alternative<instance_metadata>(p.base));
    EXPECT_TRUE(p.last_resort);
    ASSERT_EQ(p.roles.size(), 1u);
}

TEST(plan_credentials, a_token_file_without_a_role_is_refused) {
    auto message = failure_of({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"}});
    EXPECT_TRUE(contains(message, "AWS_ROLE_ARN is not")) << message;
}

TEST(plan_credentials, one_environment_key_without_the_other_is_refused) {
    auto message = failure_of({{"AWS_ACCESS_KEY_ID", "AKID"}}, profiles_from(profile_keys));
    EXPECT_TRUE(contains(message, "AWS_SECRET_ACCESS_KEY is not set")) << message;
}

// --- profiles ---

TEST(plan_credentials, a_missing_explicit_profile_is_an_error_a_missing_default_is_not) {
    auto message = failure_of({{"AWS_PROFILE", "prod"}}, profiles_from(profile_keys, {}, "prod", true));
    EXPECT_TRUE(contains(message, "AWS_PROFILE=\"prod\"")) << message;
    EXPECT_TRUE(contains(message, "/home/u/.aws/credentials")) << message;
    message = failure_of({{"AWS_DEFAULT_PROFILE", "prod"}}, profiles_from(profile_keys, {}, "prod", true));
    EXPECT_TRUE(contains(message, "AWS_DEFAULT_PROFILE=\"prod\"")) << message;

    auto p = planned({}, profiles_from("[profile other]\nregion = us-east-1\n"));
    EXPECT_TRUE(std::holds_alternative<instance_metadata>(p.base));
}

TEST(plan_credentials, a_profile_without_credentials_is_passed_over) {
    auto p = planned(container_settings, profiles_from("[default]\nregion = eu-west-1\n"));
    EXPECT_TRUE(std::holds_alternative<container_endpoint>(p.base));
    EXPECT_TRUE(contains(p.passed_over[2], "profile \"default\" has no credentials")) << p.passed_over[2];
}

TEST(plan_credentials, profile_session_token_and_missing_keys) {
    auto p = planned({}, profiles_from("", "[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
                                           "aws_session_token = T\n"));
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.session_token, "T");

    auto message = failure_of({}, profiles_from("", "[default]\naws_access_key_id = A\n"));
    EXPECT_TRUE(contains(message, "has aws_access_key_id but no aws_secret_access_key")) << message;
    message = failure_of({}, profiles_from("", std::string{"[default]\naws_secret_access_key = "} + secret + "\n"));
    EXPECT_TRUE(contains(message, "has aws_secret_access_key but no aws_access_key_id")) << message;
}

TEST(plan_credentials, profile_assume_role_through_source_profiles) {
    auto config = std::string{
        "[profile app]\nrole_arn = arn:aws:iam::2:role/app\nsource_profile = hop\nexternal_id = ext\n"
        "role_session_name = app-session\n"
        "[profile hop]\nrole_arn = arn:aws:iam::1:role/hop\nsource_profile = base\n"};
    auto p = planned({}, profiles_from(config, "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s\n",
                                       "app", true));
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.access_key_id, "AKIDBASE");
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.source, "profile base");
    ASSERT_EQ(p.roles.size(), 2u);
    EXPECT_EQ(p.roles[0].role_arn, "arn:aws:iam::1:role/hop");  // the innermost first
    EXPECT_EQ(p.roles[1].role_arn, "arn:aws:iam::2:role/app");
    EXPECT_EQ(p.roles[1].external_id, "ext");
    EXPECT_EQ(p.roles[1].session_name, "app-session");
    EXPECT_EQ(p.roles[1].origin, "profile app");
}

TEST(plan_credentials, the_selected_profile_prefers_its_role_a_source_profile_its_keys) {
    auto credentials = std::string{
        "[app]\naws_access_key_id = AKIDAPP\naws_secret_access_key = s\nrole_arn = arn:aws:iam::1:role/app\n"
        "source_profile = base\n"
        "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s\nrole_arn = arn:aws:iam::1:role/ignored\n"
        "source_profile = app\n"};
    auto p = planned({}, profiles_from("", credentials, "app", true));
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.access_key_id, "AKIDBASE");
    ASSERT_EQ(p.roles.size(), 1u);
    EXPECT_EQ(p.roles[0].role_arn, "arn:aws:iam::1:role/app");
}

TEST(plan_credentials, a_profile_may_be_its_own_source_when_it_holds_keys) {
    auto p = planned({}, profiles_from("", "[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
                                           "role_arn = arn:aws:iam::1:role/self\nsource_profile = default\n"));
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.access_key_id, "A");
    ASSERT_EQ(p.roles.size(), 1u);
}

TEST(plan_credentials, a_loop_of_profiles_is_refused_naming_it) {
    auto config = std::string{
        "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
        "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = c\n"
        "[profile c]\nrole_arn = arn:aws:iam::1:role/c\nsource_profile = a\n"};
    auto message = failure_of({}, profiles_from(config, {}, "a", true));
    EXPECT_TRUE(contains(message, "loop")) << message;
    EXPECT_TRUE(contains(message, "a -> b -> c -> a")) << message;

    message = failure_of({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n"));
    EXPECT_TRUE(contains(message, "loop")) << message;
}

TEST(plan_credentials, broken_role_profiles) {
    auto message = failure_of({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = gone\n"));
    EXPECT_TRUE(contains(message, "source_profile \"gone\"")) << message;
    message = failure_of({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\n"));
    EXPECT_TRUE(contains(message, "no source_profile")) << message;
    message = failure_of({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = a\n"
                                           "credential_source = Environment\n[profile a]\naws_access_key_id = A\n"));
    EXPECT_TRUE(contains(message, "both source_profile and credential_source")) << message;
    message = failure_of({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = a\n"
                                           "[profile a]\nregion = us-east-1\n"));
    EXPECT_TRUE(contains(message, "profile \"a\" (source_profile of \"default\") has no credentials")) << message;
    message = failure_of({}, profiles_from("[default]\ncredential_process = /bin/get-keys\n"));
    EXPECT_TRUE(contains(message, "credential_process")) << message;
}

TEST(plan_credentials, credential_source_and_web_identity_in_a_profile) {
    auto config = std::string{"[default]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = Environment\n"};
    auto p = planned(environment_keys, profiles_from(config));
    EXPECT_EQ(base_as<fixed_keys>(p).credentials.source, "environment");  // the environment step came first
    p = planned({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = "
                                  "Ec2InstanceMetadata\n"));
    EXPECT_TRUE(std::holds_alternative<instance_metadata>(p.base));
    EXPECT_FALSE(p.last_resort);
    ASSERT_EQ(p.roles.size(), 1u);
    p = planned(container_settings, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\n"
                                                  "credential_source = EcsContainer\n"));
    EXPECT_TRUE(std::holds_alternative<container_endpoint>(p.base));
    ASSERT_EQ(p.roles.size(), 1u);
    auto message = failure_of({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\n"
                                                "credential_source = EcsContainer\n"));
    EXPECT_TRUE(contains(message, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) << message;
    message = failure_of({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = Nope\n"));
    EXPECT_TRUE(contains(message, "Ec2InstanceMetadata")) << message;

    p = planned({}, profiles_from("[default]\nrole_arn = arn:aws:iam::1:role/x\nweb_identity_token_file = /t\n"));
    EXPECT_EQ(base_as<web_identity>(p).token_file, "/t");
    EXPECT_EQ(base_as<web_identity>(p).role_arn, "arn:aws:iam::1:role/x");
    EXPECT_TRUE(p.roles.empty());
}

// --- container credentials ---

TEST(plan_credentials, container_full_uri_and_authorization_token) {
    auto p = planned({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds"},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc"}});
    auto const& container = base_as<container_endpoint>(p);
    EXPECT_EQ(container.endpoint.text(), "http://127.0.0.1:8080/creds");
    EXPECT_EQ(container.authorization_token, "Basic abc");
    EXPECT_FALSE(contains(describe(p), "Basic abc"));

    // The relative URI wins; the token file wins over the token.
    p = planned({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"},
                 {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds"},
                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc"},
                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/token"}});
    EXPECT_EQ(base_as<container_endpoint>(p).endpoint.text(), "http://169.254.170.2/v2/x");
    EXPECT_EQ(base_as<container_endpoint>(p).authorization_token_file, "/var/run/token");
    EXPECT_EQ(base_as<container_endpoint>(p).authorization_token, "");
}

TEST(plan_credentials, container_refusals) {
    auto message = failure_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example.com/creds"}});
    EXPECT_TRUE(contains(message, "\"evil.example.com\"")) << message;
    message = failure_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/"},
                          {"AWS_CONTAINER_AUTHORIZATION_TOKEN", std::string{"abc\r\nX-Injected: "} + secret}});
    EXPECT_TRUE(contains(message, "line break")) << message;
    message = failure_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", std::string{"http://user:"} + secret + "@127.0.0.1/"}});
    EXPECT_TRUE(contains(message, "user info")) << message;
    message = failure_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/"}});
    EXPECT_TRUE(contains(message, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) << message;
}

// Found by tests/fuzz/config_fuzz: a relative URI that is not a path was appended to the host, so
// "0c/x" named 169.254.170.20c and ".evil.example/x" another host, which got the token.
TEST(plan_credentials, a_relative_uri_is_a_path_on_the_container_endpoint) {
    for (auto relative : {"0c/x", ".evil.example/v2/credentials", ":8080/v2/credentials", "v2/credentials", "?x"}) {
        auto message = failure_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", relative},
                                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc"}});
        EXPECT_TRUE(contains(message, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) << relative << ": " << message;
        EXPECT_TRUE(contains(message, "not a path")) << relative << ": " << message;
    }
    auto p = planned({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/6d4e5a1c?x=1"}});
    EXPECT_EQ(base_as<container_endpoint>(p).endpoint.text(), "http://169.254.170.2/v2/credentials/6d4e5a1c?x=1");
}

// Found by tests/fuzz/config_fuzz: values were quoted with their line breaks, which forge log lines.
TEST(plan_credentials, quoted_values_have_their_control_characters_escaped) {
    std::string const profile = "dev\n2026-11-30 12:00:00 [info] forged";
    auto message = failure_of({{"AWS_PROFILE", profile}}, profiles_from("", "", profile, true));
    EXPECT_TRUE(contains(message, "\"dev\\x0a2026-11-30 12:00:00 [info] forged\"")) << message;
    EXPECT_FALSE(contains(message, "\n")) << message;
}

TEST(is_allowed_container_endpoint, botocore_rule) {
    for (auto allowed : {"https://anything.example.com/creds", "http://127.0.0.1/", "http://127.1.2.3:99/x",
                         "http://[::1]:8080/", "http://localhost/", "http://169.254.170.2/v2",
                         "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/credentials"})
        EXPECT_TRUE(is_allowed_container_endpoint(*parse_url(allowed))) << allowed;
    for (auto refused : {"http://example.com/", "http://10.0.0.1/", "http://169.254.170.3/", "http://128.0.0.1/",
                         "http://[fd00:ec2::24]/", "http://localhost.example.com/", "http://[::2]/"})
        EXPECT_FALSE(is_allowed_container_endpoint(*parse_url(refused))) << refused;
}

// --- instance metadata ---

TEST(instance_metadata_settings, endpoint_mode_and_switches) {
    auto settings = instance_metadata_settings(environment_from({}));
    ASSERT_TRUE(settings && *settings);
    EXPECT_EQ((*settings)->endpoint.text(), "http://169.254.169.254/");

    settings = instance_metadata_settings(environment_from({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"}}));
    EXPECT_EQ((*settings)->endpoint.host, "fd00:ec2::254");
    settings = instance_metadata_settings(environment_from({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338"},
                                                            {"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"}}));
    EXPECT_EQ((*settings)->endpoint.text(), "http://127.0.0.1:1338/");
    settings = instance_metadata_settings(environment_from({{"AWS_EC2_METADATA_V1_DISABLED", "true"}}));
    EXPECT_FALSE((*settings)->v1_fallback);
    settings = instance_metadata_settings(environment_from({{"AWS_EC2_METADATA_DISABLED", "false"}}));
    EXPECT_TRUE(*settings);
    settings = instance_metadata_settings(environment_from({{"AWS_EC2_METADATA_DISABLED", "true"}}));
    ASSERT_TRUE(settings);
    EXPECT_FALSE(*settings);

    EXPECT_FALSE(instance_metadata_settings(environment_from({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv5"}})));
    EXPECT_FALSE(instance_metadata_settings(environment_from({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254"}})));
}

// --- STS endpoint ---

TEST(sts_endpoint, regional_by_default_else_the_override) {
    EXPECT_EQ(sts_endpoint("eu-west-1", std::nullopt).text(), "https://sts.eu-west-1.amazonaws.com/");
    EXPECT_EQ(sts_endpoint("cn-north-1", std::nullopt).text(), "https://sts.cn-north-1.amazonaws.com.cn/");
    EXPECT_EQ(sts_endpoint("us-east-1", parse_url("http://127.0.0.1:5000").value()).text(), "http://127.0.0.1:5000/");
}

}  // namespace
}  // namespace rancher_ecr
