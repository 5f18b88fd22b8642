#include "app/config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "net/http_message.hpp"

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using variables = std::map<std::string, std::string, std::less<>>;

result<service_config> load(variables vars) { return load_config(environment_from(std::move(vars))); }

// With the one required setting filled in, so that a test names only what it is about.
result<service_config> load_valid(variables vars) {
    if (!vars.contains("AWS_DEFAULT_REGION")) vars.try_emplace("AWS_REGION", "us-east-1");
    return load(std::move(vars));
}

service_config loaded(variables vars) {
    auto config = load_valid(std::move(vars));
    if (!config) {
        ADD_FAILURE() << "unexpected failure: " << config.error().message;
        return {};
    }
    return *config;
}

// The message of the config failure that `vars` must cause.
std::string failure_of(variables vars) {
    auto config = load_valid(std::move(vars));
    if (config) {
        ADD_FAILURE() << "expected a failure";
        return {};
    }
    EXPECT_EQ(config.error().kind, failure_kind::config);
    EXPECT_FALSE(config.error().retryable);
    return config.error().message;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// A regular file for AWS_CA_BUNDLE, removed at the end of the test.
class temporary_file {
public:
    temporary_file() {
        std::string pattern = (std::filesystem::temp_directory_path() / "config_test_XXXXXX").string();
        int fd = ::mkstemp(pattern.data());
        if (fd < 0) throw std::runtime_error("mkstemp failed");
        ::close(fd);
        path_ = pattern;
        std::ofstream{path_} << "-----BEGIN CERTIFICATE-----\n";
    }
    ~temporary_file() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    temporary_file(temporary_file const&) = delete;
    temporary_file& operator=(temporary_file const&) = delete;

    std::string const& path() const { return path_; }

private:
    std::string path_;
};

TEST(load_config, defaults) {
    auto config = loaded({});
    EXPECT_EQ(config.region, "us-east-1");
    EXPECT_TRUE(config.registry_ids.empty());
    EXPECT_FALSE(config.ecr_endpoint);
    EXPECT_FALSE(config.ca_bundle);
    EXPECT_FALSE(config.rancher_url);
    EXPECT_EQ(config.rancher_access_key, "");
    EXPECT_EQ(config.rancher_secret_key, "");
    EXPECT_FALSE(config.auto_create);
    EXPECT_EQ(config.level, log_level::info);
    EXPECT_EQ(config.format, log_format::text);
    EXPECT_EQ(config.listen_address, "0.0.0.0");
    EXPECT_EQ(config.listen_port, 8080);
    EXPECT_EQ(config.refresh_interval, 6h);
}

TEST(load_config, empty_values_count_as_unset) {
    auto config = loaded({
        {"AWS_ECR_REGISTRY_IDS", ""}, {"AWS_ENDPOINT_URL_ECR", ""}, {"AWS_ENDPOINT_URL", ""},
        {"AWS_CA_BUNDLE", ""}, {"CATTLE_URL", ""}, {"CATTLE_ACCESS_KEY", ""}, {"CATTLE_SECRET_KEY", ""},
        {"AUTO_CREATE", ""}, {"LOG_LEVEL", ""}, {"LOG_FORMAT", ""}, {"LISTEN_ADDRESS", ""},
        {"LISTEN_PORT", ""}, {"REFRESH_INTERVAL", ""},
    });
    EXPECT_TRUE(config.registry_ids.empty());
    EXPECT_FALSE(config.ecr_endpoint);
    EXPECT_FALSE(config.ca_bundle);
    EXPECT_FALSE(config.rancher_url);
    EXPECT_FALSE(config.auto_create);
    EXPECT_EQ(config.level, log_level::info);
    EXPECT_EQ(config.listen_address, "0.0.0.0");
    EXPECT_EQ(config.listen_port, 8080);
    EXPECT_EQ(config.refresh_interval, 6h);
}

TEST(load_config, region_accepts_the_forms_of_region_names) {
    for (auto region : {"us-east-1", "eu-central-2", "cn-north-1", "cn-northwest-1", "us-gov-west-1",
             "ap-southeast-4", "il-central-1", "us-isob-east-1", "ca-west-1", "me-south-1"}) {
        auto config = load({{"AWS_REGION", region}});
        ASSERT_TRUE(config) << region << ": " << config.error().message;
        EXPECT_EQ(config->region, region);
    }
}

TEST(load_config, region_rejects_other_forms) {
    for (auto region : {"US-EAST-1", "us-east", "useast1", "us-east-1a", "u-east-1", "us-east-100", " us-east-1",
             "us_east_1", "us--1", "us-east-1-", "us-gov-west-east-1", "east-1"}) {
        auto message = failure_of({{"AWS_REGION", region}});
        EXPECT_TRUE(contains(message, "AWS_REGION")) << message;
        EXPECT_TRUE(contains(message, std::string{"\""} + region + "\"")) << message;
        EXPECT_TRUE(contains(message, "us-east-1")) << message;
    }
}

TEST(load_config, region_may_be_left_to_the_profile_or_the_instance) {
    // Whether some region can be had at all is decided with the shared files (read_aws_settings).
    for (auto const& vars : {variables{}, variables{{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", ""}}}) {
        auto config = load(vars);
        ASSERT_TRUE(config) << config.error().message;
        EXPECT_EQ(config->region, "");
    }
}

TEST(load_config, aws_region_wins_over_aws_default_region) {
    EXPECT_EQ(loaded({{"AWS_REGION", "eu-west-1"}, {"AWS_DEFAULT_REGION", "us-west-2"}}).region, "eu-west-1");
    EXPECT_EQ(loaded({{"AWS_DEFAULT_REGION", "us-west-2"}}).region, "us-west-2");
    EXPECT_EQ(loaded({{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", "us-west-2"}}).region, "us-west-2");
    // The winner is validated and named, even when the other one would do.
    auto message = failure_of({{"AWS_REGION", "nowhere"}, {"AWS_DEFAULT_REGION", "us-west-2"}});
    EXPECT_TRUE(contains(message, "AWS_REGION=\"nowhere\"")) << message;
    message = failure_of({{"AWS_DEFAULT_REGION", "nowhere"}});
    EXPECT_TRUE(contains(message, "AWS_DEFAULT_REGION=\"nowhere\"")) << message;
}

TEST(load_config, registry_ids_are_trimmed_deduplicated_in_order) {
    auto config = loaded({{"AWS_ECR_REGISTRY_IDS", " 210987654321 ,123456789012,,210987654321, \t"}});
    EXPECT_EQ(config.registry_ids, (std::vector<std::string>{"210987654321", "123456789012"}));
    EXPECT_TRUE(loaded({{"AWS_ECR_REGISTRY_IDS", " , ,"}}).registry_ids.empty());
}

TEST(load_config, registry_ids_must_be_12_digits) {
    for (auto item : {"12345678901", "1234567890123", "12345678901a", "+12345678901", "1234 5678901"}) {
        auto message = failure_of({{"AWS_ECR_REGISTRY_IDS", std::string{"123456789012,"} + item}});
        EXPECT_TRUE(contains(message, "AWS_ECR_REGISTRY_IDS")) << message;
        EXPECT_TRUE(contains(message, std::string{"\""} + item + "\"")) << message;
        EXPECT_TRUE(contains(message, "12-digit")) << message;
    }
}

TEST(load_config, registry_ids_at_most_10_after_deduplication) {
    std::string ten;
    for (int i = 0; i < 10; ++i) ten += "10000000000" + std::to_string(i) + ",";
    EXPECT_EQ(loaded({{"AWS_ECR_REGISTRY_IDS", ten + "100000000000,100000000009"}}).registry_ids.size(), 10u);
    auto message = failure_of({{"AWS_ECR_REGISTRY_IDS", ten + "200000000000"}});
    EXPECT_TRUE(contains(message, "AWS_ECR_REGISTRY_IDS")) << message;
    EXPECT_TRUE(contains(message, "11")) << message;
    EXPECT_TRUE(contains(message, "at most 10")) << message;
}

TEST(load_config, cattle_url) {
    auto config = loaded({{"CATTLE_URL", "https://rancher.example.com:8443/v2-beta"}});
    ASSERT_TRUE(config.rancher_url);
    EXPECT_EQ(config.rancher_url->host, "rancher.example.com");
    EXPECT_EQ(config.rancher_url->port, 8443);
    EXPECT_EQ(config.rancher_url->target, "/v2-beta");
    EXPECT_TRUE(loaded({{"CATTLE_URL", "http://127.0.0.1:8080"}}).rancher_url);

    for (auto bad : {"rancher.example.com", "ftp://rancher.example.com", "https://"}) {
        auto message = failure_of({{"CATTLE_URL", bad}});
        EXPECT_TRUE(contains(message, "CATTLE_URL")) << message;
        EXPECT_TRUE(contains(message, bad)) << message;
        EXPECT_TRUE(contains(message, "http")) << message;
    }
}

TEST(load_config, urls_with_user_info_are_refused_unquoted) {
    for (auto name : {"CATTLE_URL", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL"}) {
        auto message = failure_of({{name, "https://user:pa/ss@rancher.example.com"}});
        EXPECT_TRUE(contains(message, name)) << message;
        EXPECT_TRUE(contains(message, "user info")) << message;
        EXPECT_FALSE(contains(message, "pa/ss")) << message;
    }
}

TEST(load_config, rancher_keys_come_in_pairs) {
    auto config = loaded({{"CATTLE_ACCESS_KEY", "access"}, {"CATTLE_SECRET_KEY", "secret"}});
    EXPECT_EQ(config.rancher_access_key, "access");
    EXPECT_EQ(config.rancher_secret_key, "secret");

    auto message = failure_of({{"CATTLE_ACCESS_KEY", "access"}});
    EXPECT_TRUE(contains(message, "CATTLE_SECRET_KEY is not set")) << message;
    message = failure_of({{"CATTLE_ACCESS_KEY", "access"}, {"CATTLE_SECRET_KEY", ""}});
    EXPECT_TRUE(contains(message, "CATTLE_SECRET_KEY is not set")) << message;
    message = failure_of({{"CATTLE_SECRET_KEY", "secret"}});
    EXPECT_TRUE(contains(message, "CATTLE_ACCESS_KEY is not set")) << message;
}

TEST(load_config, auto_create_booleans) {
    for (auto yes : {"true", "TRUE", "True", "1", "yes", "YES", "on", "On"})
        EXPECT_TRUE(loaded({{"AUTO_CREATE", yes}}).auto_create) << yes;
    for (auto no : {"false", "FALSE", "0", "no", "No", "off", "OFF"})
        EXPECT_FALSE(loaded({{"AUTO_CREATE", no}}).auto_create) << no;
    for (auto bad : {"maybe", "2", "y", "truee", " true"}) {
        auto message = failure_of({{"AUTO_CREATE", bad}});
        EXPECT_TRUE(contains(message, "AUTO_CREATE")) << message;
        EXPECT_TRUE(contains(message, std::string{"\""} + bad + "\"")) << message;
        EXPECT_TRUE(contains(message, "true")) << message;
        EXPECT_TRUE(contains(message, "off")) << message;
    }
}

TEST(load_config, log_level) {
    EXPECT_EQ(loaded({{"LOG_LEVEL", "trace"}}).level, log_level::trace);
    EXPECT_EQ(loaded({{"LOG_LEVEL", "DEBUG"}}).level, log_level::debug);
    EXPECT_EQ(loaded({{"LOG_LEVEL", "Info"}}).level, log_level::info);
    EXPECT_EQ(loaded({{"LOG_LEVEL", "warn"}}).level, log_level::warn);
    EXPECT_EQ(loaded({{"LOG_LEVEL", "WARNING"}}).level, log_level::warn);
    EXPECT_EQ(loaded({{"LOG_LEVEL", "error"}}).level, log_level::error);
    for (auto bad : {"verbose", "critical", "off", "3"}) {
        auto message = failure_of({{"LOG_LEVEL", bad}});
        EXPECT_TRUE(contains(message, "LOG_LEVEL")) << message;
        EXPECT_TRUE(contains(message, std::string{"\""} + bad + "\"")) << message;
        EXPECT_TRUE(contains(message, "trace, debug, info, warn")) << message;
    }
}

TEST(log_level, to_string_round_trips) {
    for (auto level : {log_level::trace, log_level::debug, log_level::info, log_level::warn, log_level::error})
        EXPECT_EQ(loaded({{"LOG_LEVEL", std::string{to_string(level)}}}).level, level);
    EXPECT_EQ(to_string(log_level::warn), "warn");
}

TEST(load_config, log_format) {
    EXPECT_EQ(loaded({{"LOG_FORMAT", "text"}}).format, log_format::text);
    EXPECT_EQ(loaded({{"LOG_FORMAT", "JSON"}}).format, log_format::json);
    EXPECT_EQ(to_string(log_format::json), "json");
    auto message = failure_of({{"LOG_FORMAT", "logfmt"}});
    EXPECT_TRUE(contains(message, "LOG_FORMAT=\"logfmt\"")) << message;
    EXPECT_TRUE(contains(message, "text or json")) << message;
}

TEST(load_config, listen_address) {
    for (auto good : {"127.0.0.1", "0.0.0.0", "::", "::1", "fe80::1", "2001:db8::8:800:200c:417a"})
        EXPECT_EQ(loaded({{"LISTEN_ADDRESS", good}}).listen_address, good);
    for (auto bad : {"localhost", "[::1]", "256.0.0.1", "1.2.3", "127.0.0.1:8080", " 127.0.0.1"}) {
        auto message = failure_of({{"LISTEN_ADDRESS", bad}});
        EXPECT_TRUE(contains(message, "LISTEN_ADDRESS")) << message;
        EXPECT_TRUE(contains(message, std::string{"\""} + bad + "\"")) << message;
        EXPECT_TRUE(contains(message, "IPv4 or IPv6")) << message;
    }
}

TEST(load_config, listen_port) {
    EXPECT_EQ(loaded({{"LISTEN_PORT", "1"}}).listen_port, 1);
    EXPECT_EQ(loaded({{"LISTEN_PORT", "9090"}}).listen_port, 9090);
    EXPECT_EQ(loaded({{"LISTEN_PORT", "65535"}}).listen_port, 65535);
    for (auto bad : {"0", "65536", "-1", "+80", "80a", " 80", "0x50", "99999999999999999999999"}) {
        auto message = failure_of({{"LISTEN_PORT", bad}});
        EXPECT_TRUE(contains(message, "LISTEN_PORT")) << message;
        EXPECT_TRUE(contains(message, std::string{"\""} + bad + "\"")) << message;
        EXPECT_TRUE(contains(message, "1 to 65535")) << message;
    }
}

TEST(load_config, refresh_interval) {
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "90s"}}).refresh_interval, 90s);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "30m"}}).refresh_interval, 30min);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "6h"}}).refresh_interval, 6h);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "3600"}}).refresh_interval, 1h);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "1"}}).refresh_interval, 1s);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "24h"}}).refresh_interval, 24h);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "1440m"}}).refresh_interval, 24h);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "86400"}}).refresh_interval, 24h);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "1ms"}}).refresh_interval, 1ms);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "500ms"}}).refresh_interval, 500ms);
    EXPECT_EQ(loaded({{"REFRESH_INTERVAL", "86400000ms"}}).refresh_interval, 24h);
    for (auto bad : {"0", "0s", "0ms", "86400001ms", "ms", "1.5ms", "5MS", "0h", "86401", "25h", "1441m", "1.5h",
             "-1", "6H", "h", "1d", "6 h", "1h30m", "99999999999999999999999h"}) {
        auto message = failure_of({{"REFRESH_INTERVAL", bad}});
        EXPECT_TRUE(contains(message, "REFRESH_INTERVAL")) << message;
        EXPECT_TRUE(contains(message, std::string{"\""} + bad + "\"")) << message;
        EXPECT_TRUE(contains(message, "90s, 30m, 6h")) << message;
        EXPECT_TRUE(contains(message, "1ms to 24h")) << message;
    }
}

TEST(load_config, ecr_endpoint) {
    auto config = loaded({{"AWS_ENDPOINT_URL", "http://127.0.0.1:5000"}});
    ASSERT_TRUE(config.ecr_endpoint);
    EXPECT_EQ(config.ecr_endpoint->host, "127.0.0.1");
    EXPECT_EQ(config.ecr_endpoint->port, 5000);

    auto message = failure_of({{"AWS_ENDPOINT_URL", "localhost:5000"}});
    EXPECT_TRUE(contains(message, "AWS_ENDPOINT_URL must")) << message;
    EXPECT_TRUE(contains(message, "localhost:5000")) << message;
    EXPECT_TRUE(contains(message, "http:// or https://")) << message;
}

TEST(load_config, aws_endpoint_url_ecr_wins_over_aws_endpoint_url) {
    auto config = loaded({{"AWS_ENDPOINT_URL_ECR", "http://ecr.local:1"}, {"AWS_ENDPOINT_URL", "http://all.local:2"}});
    ASSERT_TRUE(config.ecr_endpoint);
    EXPECT_EQ(config.ecr_endpoint->host, "ecr.local");
    config = loaded({{"AWS_ENDPOINT_URL_ECR", ""}, {"AWS_ENDPOINT_URL", "http://all.local:2"}});
    ASSERT_TRUE(config.ecr_endpoint);
    EXPECT_EQ(config.ecr_endpoint->host, "all.local");

    auto message = failure_of({{"AWS_ENDPOINT_URL_ECR", "nope"}, {"AWS_ENDPOINT_URL", "http://all.local:2"}});
    EXPECT_TRUE(contains(message, "AWS_ENDPOINT_URL_ECR")) << message;
    EXPECT_TRUE(contains(message, "nope")) << message;
}

TEST(load_config, ca_bundle_must_be_a_readable_regular_file) {
    temporary_file bundle;
    EXPECT_EQ(loaded({{"AWS_CA_BUNDLE", bundle.path()}}).ca_bundle, bundle.path());

    auto missing = bundle.path() + ".missing";
    auto message = failure_of({{"AWS_CA_BUNDLE", missing}});
    EXPECT_TRUE(contains(message, "AWS_CA_BUNDLE")) << message;
    EXPECT_TRUE(contains(message, missing)) << message;
    EXPECT_TRUE(contains(message, "readable PEM file")) << message;

    auto directory = std::filesystem::path{bundle.path()}.parent_path().string();
    message = failure_of({{"AWS_CA_BUNDLE", directory}});
    EXPECT_TRUE(contains(message, "not a regular file")) << message;
}

TEST(load_config, values_in_messages_are_escaped) {
    auto message = failure_of({{"LOG_LEVEL", "info\nFAKE LOG LINE"}});
    EXPECT_FALSE(contains(message, "\n")) << message;
    EXPECT_TRUE(contains(message, "info\\x0aFAKE")) << message;
    message = failure_of({{"LOG_LEVEL", std::string(1000, 'x')}});
    EXPECT_LT(message.size(), 400u);
}

TEST(load_config, no_message_contains_a_secret) {
    variables const secrets{
        {"CATTLE_ACCESS_KEY", "token-cattle-access-5x7q"},
        {"CATTLE_SECRET_KEY", "cattle-secret-Zr8pQ2wLk9"},
        {"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"},
        {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
        {"AWS_SESSION_TOKEN", "session-token-FwoGZXIvYXdzEJr"},
        {"AWS_SECURITY_TOKEN", "security-token-IQoJb3JpZ2lu"},
    };
    // Each case breaks one setting; the ones that drop a key check the "missing partner" messages.
    std::vector<variables> broken = {
        {{"AWS_REGION", "nowhere"}},
        {{"AWS_ENDPOINT_URL_STS", "http://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY@host/"}},
        {{"AWS_ECR_REGISTRY_IDS", "12"}},
        {{"AWS_ENDPOINT_URL_ECR", "http://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY@host/"}},
        {{"AWS_ENDPOINT_URL", "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY@host"}},
        {{"AWS_CA_BUNDLE", "/nonexistent/ca.pem"}},
        {{"CATTLE_URL", "https://token-cattle-access-5x7q:cattle-secret-Zr8pQ2wLk9@rancher.example.com/v3"}},
        {{"CATTLE_URL", "ftp://rancher.example.com"}},
        {{"CATTLE_ACCESS_KEY", ""}},
        {{"CATTLE_SECRET_KEY", ""}},
        {{"AUTO_CREATE", "maybe"}},
        {{"LOG_LEVEL", "loud"}},
        {{"LOG_FORMAT", "xml"}},
        {{"LISTEN_ADDRESS", "localhost"}},
        {{"LISTEN_PORT", "0"}},
        {{"REFRESH_INTERVAL", "forever"}},
    };
    for (auto const& change : broken) {
        variables vars = secrets;
        for (auto const& [name, value] : change) vars.insert_or_assign(name, value);
        auto message = failure_of(vars);
        ASSERT_FALSE(message.empty()) << change.begin()->first;
        for (auto const& [name, secret] : secrets)
            EXPECT_FALSE(contains(message, secret)) << name << "'s value leaked into: " << message;
    }
}

// argv as main receives it.
result<command_line> parse(std::vector<char const*> args) {
    args.insert(args.begin(), "rancher-ecr-credentials");
    return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(parse_command_line, modes) {
    EXPECT_EQ(parse({})->mode, run_mode::run);
    EXPECT_EQ(parse({"--once"})->mode, run_mode::once);
    EXPECT_EQ(parse({"--help"})->mode, run_mode::help);
    EXPECT_EQ(parse({"-h"})->mode, run_mode::help);
    EXPECT_EQ(parse({"--version"})->mode, run_mode::version);
    EXPECT_EQ(parse({"healthcheck"})->mode, run_mode::healthcheck);
    EXPECT_EQ(parse_command_line(0, nullptr)->mode, run_mode::run);
}

TEST(parse_command_line, help_wins_anywhere) {
    EXPECT_EQ(parse({"--once", "--help"})->mode, run_mode::help);
    EXPECT_EQ(parse({"healthcheck", "-h"})->mode, run_mode::help);
    EXPECT_EQ(parse({"--bogus", "--help"})->mode, run_mode::help);
}

TEST(parse_command_line, unknown_arguments_point_to_help) {
    for (auto bad : {"--bogus", "once", "-o", "--once=1", "health", ""}) {
        auto parsed = parse({bad});
        ASSERT_FALSE(parsed) << bad;
        EXPECT_EQ(parsed.error().kind, failure_kind::config);
        EXPECT_TRUE(contains(parsed.error().message, std::string{"\""} + bad + "\"")) << parsed.error().message;
        EXPECT_TRUE(contains(parsed.error().message, "--help")) << parsed.error().message;
    }
}

TEST(parse_command_line, one_mode_at_most) {
    auto parsed = parse({"--once", "healthcheck"});
    ASSERT_FALSE(parsed);
    EXPECT_TRUE(contains(parsed.error().message, "--once")) << parsed.error().message;
    EXPECT_TRUE(contains(parsed.error().message, "healthcheck")) << parsed.error().message;
    EXPECT_FALSE(parse({"--once", "--once"}));
}

TEST(usage_text, lists_the_modes_and_every_variable) {
    auto text = usage_text();
    for (auto part : {"--once", "--help", "-h", "--version", "healthcheck", "AWS_REGION", "AWS_DEFAULT_REGION",
             "AWS_ECR_REGISTRY_IDS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
             "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "CATTLE_URL", "CATTLE_ACCESS_KEY",
             "CATTLE_SECRET_KEY", "AUTO_CREATE", "LOG_LEVEL", "LOG_FORMAT", "LISTEN_ADDRESS", "LISTEN_PORT",
             "REFRESH_INTERVAL", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
             "default 6h", "default 8080", "default 0.0.0.0", "default info"})
        EXPECT_TRUE(contains(text, part)) << part;
}

// ---- HTTPS_PROXY, HTTP_PROXY, NO_PROXY ----------------------------------------------------------

url target(std::string_view text) {
    auto parsed = parse_url(text);
    if (!parsed) {
        ADD_FAILURE() << text << ": " << parsed.error().message;
        return {};
    }
    return *parsed;
}

TEST(load_config, no_proxy_by_default) {
    auto config = loaded({});
    EXPECT_FALSE(config.proxies.any());
    EXPECT_FALSE(config.proxies.https);
    EXPECT_FALSE(config.proxies.http);
    EXPECT_TRUE(config.proxies.no_proxy.empty());
    EXPECT_EQ(config.proxies.proxy_for(target("https://api.ecr.us-east-1.amazonaws.com/")), nullptr);
}

TEST(load_config, https_proxy_and_http_proxy) {
    auto config = loaded({{"HTTPS_PROXY", "http://user:p%40ss@secure.proxy:3128"}, {"HTTP_PROXY", "plain.proxy:8080"}});
    ASSERT_TRUE(config.proxies.https);
    EXPECT_EQ(config.proxies.https->host, "secure.proxy");
    EXPECT_EQ(config.proxies.https->port, 3128);
    EXPECT_EQ(config.proxies.https->authorization, basic_authorization("user", "p@ss"));
    ASSERT_TRUE(config.proxies.http);
    EXPECT_EQ(config.proxies.http->host, "plain.proxy");
    EXPECT_EQ(config.proxies.http->port, 8080);
    EXPECT_EQ(config.proxies.http->authorization, "");
    EXPECT_TRUE(config.proxies.any());
    EXPECT_EQ(config.proxies.proxy_for(target("https://api.ecr.us-east-1.amazonaws.com/")), &*config.proxies.https);
    EXPECT_EQ(config.proxies.proxy_for(target("http://rancher.example.com/")), &*config.proxies.http);

    // Each is independent of the other.
    auto only_https = loaded({{"HTTPS_PROXY", "http://secure.proxy:3128"}});
    EXPECT_TRUE(only_https.proxies.https);
    EXPECT_FALSE(only_https.proxies.http);
    auto only_http = loaded({{"HTTP_PROXY", "http://plain.proxy"}});
    EXPECT_FALSE(only_http.proxies.https);
    ASSERT_TRUE(only_http.proxies.http);
    EXPECT_EQ(only_http.proxies.http->port, 80);
}

TEST(load_config, lowercase_proxy_variables_when_uppercase_unset) {
    auto config = loaded({{"https_proxy", "http://lower-secure:3128"}, {"http_proxy", "http://lower-plain:8080"},
        {"no_proxy", ".internal"}});
    ASSERT_TRUE(config.proxies.https);
    EXPECT_EQ(config.proxies.https->host, "lower-secure");
    ASSERT_TRUE(config.proxies.http);
    EXPECT_EQ(config.proxies.http->host, "lower-plain");
    EXPECT_EQ(config.proxies.proxy_for(target("https://a.internal/")), nullptr);
    EXPECT_NE(config.proxies.proxy_for(target("https://a.external/")), nullptr);
}

TEST(load_config, uppercase_proxy_variables_win) {
    auto config = loaded({{"HTTPS_PROXY", "http://upper-secure:3128"}, {"https_proxy", "http://lower-secure:3128"},
        {"HTTP_PROXY", "http://upper-plain:8080"}, {"http_proxy", "http://lower-plain:8080"},
        {"NO_PROXY", "upper.example"}, {"no_proxy", "lower.example"}});
    ASSERT_TRUE(config.proxies.https);
    EXPECT_EQ(config.proxies.https->host, "upper-secure");
    ASSERT_TRUE(config.proxies.http);
    EXPECT_EQ(config.proxies.http->host, "upper-plain");
    EXPECT_EQ(config.proxies.proxy_for(target("https://upper.example/")), nullptr);
    EXPECT_NE(config.proxies.proxy_for(target("https://lower.example/")), nullptr);

    // The loser is not even read: a bad lowercase value beside a good uppercase one is no failure.
    auto shadowed = loaded({{"HTTPS_PROXY", "http://upper-secure:3128"}, {"https_proxy", "socks5://nope"},
        {"HTTP_PROXY", "http://upper-plain:8080"}, {"http_proxy", "http://:0"},
        {"NO_PROXY", "upper.example"}, {"no_proxy", "10.0.0.0/99"}});
    ASSERT_TRUE(shadowed.proxies.https);
    EXPECT_EQ(shadowed.proxies.https->host, "upper-secure");
    ASSERT_TRUE(shadowed.proxies.http);
    EXPECT_EQ(shadowed.proxies.http->host, "upper-plain");
}

TEST(load_config, empty_uppercase_proxy_variables_count_as_unset) {
    auto config = loaded({{"HTTPS_PROXY", ""}, {"https_proxy", "http://lower-secure:3128"},
        {"HTTP_PROXY", ""}, {"http_proxy", "http://lower-plain:8080"},
        {"NO_PROXY", ""}, {"no_proxy", "lower.example"}});
    ASSERT_TRUE(config.proxies.https);
    EXPECT_EQ(config.proxies.https->host, "lower-secure");
    ASSERT_TRUE(config.proxies.http);
    EXPECT_EQ(config.proxies.http->host, "lower-plain");
    EXPECT_EQ(config.proxies.proxy_for(target("https://lower.example/")), nullptr);

    auto all_empty = loaded({{"HTTPS_PROXY", ""}, {"https_proxy", ""}, {"HTTP_PROXY", ""}, {"http_proxy", ""},
        {"NO_PROXY", ""}, {"no_proxy", ""}});
    EXPECT_FALSE(all_empty.proxies.any());
    EXPECT_TRUE(all_empty.proxies.no_proxy.empty());
}

TEST(load_config, invalid_https_proxy_is_named_without_its_password) {
    auto message = failure_of({{"HTTPS_PROXY", "https://u:hunter2secret@proxy:3128"}});
    EXPECT_TRUE(contains(message, "HTTPS_PROXY")) << message;
    EXPECT_TRUE(contains(message, "https://")) << message;
    EXPECT_TRUE(contains(message, "***@proxy:3128")) << message;
    EXPECT_FALSE(contains(message, "hunter2secret")) << message;

    message = failure_of({{"HTTPS_PROXY", "http://u:hunter2secret@proxy:notaport"}});
    EXPECT_TRUE(contains(message, "HTTPS_PROXY")) << message;
    EXPECT_TRUE(contains(message, "proxy:notaport")) << message;
    EXPECT_FALSE(contains(message, "hunter2secret")) << message;

    message = failure_of({{"HTTPS_PROXY", "http://u:hunter2/secret@proxy:notaport"}});
    EXPECT_FALSE(contains(message, "hunter2")) << message;
    EXPECT_FALSE(contains(message, "secret")) << message;
}

TEST(load_config, invalid_proxy_variables_are_named) {
    auto message = failure_of({{"http_proxy", "socks5://u:hunter2secret@proxy:1080"}});
    EXPECT_TRUE(contains(message, "http_proxy")) << message;
    EXPECT_FALSE(contains(message, "HTTP_PROXY")) << message;
    EXPECT_FALSE(contains(message, "hunter2secret")) << message;

    message = failure_of({{"HTTP_PROXY", "http://proxy:99999"}});
    EXPECT_TRUE(contains(message, "HTTP_PROXY")) << message;
    EXPECT_TRUE(contains(message, "proxy:99999")) << message;

    message = failure_of({{"https_proxy", "http://u:%zz@proxy:3128"}});
    EXPECT_TRUE(contains(message, "https_proxy")) << message;
    EXPECT_FALSE(contains(message, "HTTPS_PROXY")) << message;
    EXPECT_FALSE(contains(message, "%zz")) << message;

    // A valid proxy with a password must not leak when the other one is bad.
    message = failure_of({{"HTTPS_PROXY", "http://u:hunter2secret@proxy:3128"}, {"HTTP_PROXY", "ftp://proxy"}});
    EXPECT_TRUE(contains(message, "HTTP_PROXY")) << message;
    EXPECT_FALSE(contains(message, "hunter2secret")) << message;
}

TEST(load_config, no_proxy) {
    auto config = loaded({{"HTTPS_PROXY", "http://proxy:3128"}, {"HTTP_PROXY", "http://proxy:3128"},
        {"NO_PROXY", " .svc.cluster.local, 10.0.0.0/8 ,rancher.example.com:8443,[fd00::1]:80"}});
    EXPECT_FALSE(config.proxies.no_proxy.empty());
    EXPECT_EQ(config.proxies.proxy_for(target("https://rancher.cattle-system.svc.cluster.local/")), nullptr);
    EXPECT_EQ(config.proxies.proxy_for(target("http://10.43.0.1/")), nullptr);
    EXPECT_EQ(config.proxies.proxy_for(target("https://rancher.example.com:8443/v3")), nullptr);
    EXPECT_NE(config.proxies.proxy_for(target("https://rancher.example.com/v3")), nullptr);
    EXPECT_EQ(config.proxies.proxy_for(target("http://[fd00::1]/")), nullptr);
    EXPECT_NE(config.proxies.proxy_for(target("https://[fd00::1]/")), nullptr);
    EXPECT_NE(config.proxies.proxy_for(target("https://api.ecr.us-east-1.amazonaws.com/")), nullptr);

    // NO_PROXY alone is valid: nothing is proxied anyway.
    auto alone = loaded({{"NO_PROXY", "*"}});
    EXPECT_FALSE(alone.proxies.any());
    EXPECT_FALSE(alone.proxies.no_proxy.empty());

    auto lower = loaded({{"HTTPS_PROXY", "http://proxy:3128"}, {"no_proxy", "*"}});
    EXPECT_EQ(lower.proxies.proxy_for(target("https://api.ecr.us-east-1.amazonaws.com/")), nullptr);
}

TEST(load_config, bad_no_proxy_entry_is_named) {
    for (auto entry : {"10.0.0.0/33", "fd00::/129", "host:0", "host:99999", "exa mple.com", "[::1", "a/b"}) {
        auto message = failure_of({{"NO_PROXY", std::string{"localhost,"} + entry}});
        EXPECT_TRUE(contains(message, "NO_PROXY")) << message;
        EXPECT_TRUE(contains(message, std::string{"\""} + entry + "\"")) << message;
    }
    auto message = failure_of({{"no_proxy", "good.example,bad/entry"}});
    EXPECT_TRUE(contains(message, "no_proxy")) << message;
    EXPECT_FALSE(contains(message, "NO_PROXY")) << message;
    EXPECT_TRUE(contains(message, "\"bad/entry\"")) << message;
}

TEST(load_config, no_message_contains_a_proxy_password) {
    variables const secrets{
        {"CATTLE_ACCESS_KEY", "token-cattle-access-5x7q"},
        {"CATTLE_SECRET_KEY", "cattle-secret-Zr8pQ2wLk9"},
        {"HTTPS_PROXY", "http://proxy-user:hunter2secret@proxy:3128"},
        {"HTTP_PROXY", "http://plain-user:plain-Pa55word@proxy:8080"},
    };
    std::vector<variables> broken = {
        {{"AWS_REGION", "nowhere"}},
        {{"LOG_LEVEL", "loud"}},
        {{"LISTEN_PORT", "0"}},
        {{"REFRESH_INTERVAL", "forever"}},
        {{"NO_PROXY", "10.0.0.0/99"}},
        {{"HTTPS_PROXY", "https://proxy-user:hunter2secret@proxy:3128"}},
        {{"HTTPS_PROXY", "http://proxy-user:hunter2secret@proxy:notaport"}},
        {{"HTTPS_PROXY", "http://proxy-user:hunter2secret%zz@proxy:3128"}},
        {{"HTTPS_PROXY", "proxy-user:hunter2secret@"}},
        {{"HTTP_PROXY", "socks5://plain-user:plain-Pa55word@proxy:1080"}},
        {{"HTTP_PROXY", "http://plain-user:plain-Pa55word@[fd00::1"}},
        {{"HTTP_PROXY", "http://:plain-Pa55word@proxy:8080"}},
    };
    for (auto const& change : broken) {
        variables vars = secrets;
        for (auto const& [name, value] : change) vars.insert_or_assign(name, value);
        auto message = failure_of(vars);
        ASSERT_FALSE(message.empty()) << change.begin()->first;
        for (auto secret : {"token-cattle-access-5x7q", "cattle-secret-Zr8pQ2wLk9", "hunter2secret", "plain-Pa55word"})
            EXPECT_FALSE(contains(message, secret)) << secret << " leaked into: " << message;
    }
}

// As values_in_messages_are_escaped for the other settings: a proxy value must not forge log lines
// nor flood the log.
TEST(load_config, proxy_values_in_messages_are_escaped) {
    for (auto name : {"HTTPS_PROXY", "HTTP_PROXY"}) {
        auto message = failure_of({{name, "http://proxy:3128\nFAKE LOG LINE"}});
        EXPECT_TRUE(contains(message, name)) << message;
        EXPECT_FALSE(contains(message, "\n")) << message;
        message = failure_of({{name, "http://proxy:" + std::string(1000, '9')}});
        EXPECT_LT(message.size(), 400u) << name;
    }
    auto message = failure_of({{"NO_PROXY", "a.com,b\nFAKE LOG LINE"}});
    EXPECT_TRUE(contains(message, "NO_PROXY")) << message;
    EXPECT_FALSE(contains(message, "\n")) << message;
    message = failure_of({{"NO_PROXY", "a.com," + std::string(1000, '!')}});
    EXPECT_LT(message.size(), 600u);
}

TEST(load_config, cattle_url_chooses_the_rancher_api) {
    EXPECT_EQ(loaded({{"CATTLE_URL", "http://rancher:8080/v2-beta"}}).rancher_api, rancher_generation::cattle);
    EXPECT_EQ(loaded({{"CATTLE_URL", "https://rancher.example.com"}}).rancher_api, std::nullopt);
    auto v3 = loaded({{"CATTLE_URL", "https://rancher.example.com/v3"}, {"RANCHER_PROJECT", "local/Default"}});
    EXPECT_EQ(v3.rancher_api, rancher_generation::norman);
    EXPECT_EQ(v3.rancher_project, "local/Default");
    auto with_project = loaded({{"CATTLE_URL", "https://rancher.example.com/v3/projects/c-abcde:p-xyz12"}});
    EXPECT_EQ(with_project.rancher_project, "c-abcde:p-xyz12");
    EXPECT_EQ(loaded({{"CATTLE_URL", "https://rancher.example.com/v3/projects/c-abcde:p-xyz12"},
                      {"RANCHER_PROJECT", "c-abcde:p-xyz12"}})
                  .rancher_project,
              "c-abcde:p-xyz12");
}

TEST(load_config, rancher_2_needs_a_project_that_agrees_with_the_url) {
    EXPECT_TRUE(contains(failure_of({{"CATTLE_URL", "https://rancher.example.com/v3"}}), "RANCHER_PROJECT is not set"));
    auto conflict = failure_of({{"CATTLE_URL", "https://rancher.example.com/v3/projects/c-abcde:p-xyz12"},
                                {"RANCHER_PROJECT", "c-abcde:p-other"}});
    EXPECT_TRUE(contains(conflict, "RANCHER_PROJECT")) << conflict;
    EXPECT_TRUE(contains(conflict, "conflicts with the project in CATTLE_URL")) << conflict;
    EXPECT_TRUE(contains(failure_of({{"CATTLE_URL", "http://rancher:8080/v2-beta"}, {"RANCHER_PROJECT", "Default"}}),
                         "RANCHER_PROJECT is for Rancher 2.x"));
    EXPECT_TRUE(contains(failure_of({{"CATTLE_URL", "https://r/v3"}, {"RANCHER_PROJECT", "c-abcde:"}}),
                         "RANCHER_PROJECT=\"c-abcde:\" is invalid"));
    EXPECT_TRUE(contains(failure_of({{"CATTLE_URL", "https://r/v3"}, {"RANCHER_PROJECT", "/Default"}}),
                         "RANCHER_PROJECT"));
    EXPECT_TRUE(contains(failure_of({{"CATTLE_URL", "https://r/v3/clusters"}}), "CATTLE_URL"));
}

TEST(load_config, namespaces_credential_name_and_the_rancher_ca_bundle) {
    temporary_file bundle;
    auto config = loaded({{"CATTLE_URL", "https://r/v3"},
                          {"RANCHER_PROJECT", "Default"},
                          {"RANCHER_NAMESPACE", " apps, jobs ,apps"},
                          {"RANCHER_CREDENTIAL_NAME", "ecr-pull"},
                          {"CATTLE_CA_BUNDLE", bundle.path()}});
    EXPECT_EQ(config.rancher_namespaces, (std::vector<std::string>{"apps", "jobs"}));
    EXPECT_EQ(config.rancher_credential_name, "ecr-pull");
    EXPECT_EQ(config.rancher_ca_bundle, bundle.path());
    EXPECT_TRUE(loaded({{"CATTLE_URL", "https://r/v3"}, {"RANCHER_PROJECT", "Default"}}).rancher_namespaces.empty());

    auto bad_name = failure_of({{"RANCHER_CREDENTIAL_NAME", "Bad_Name"}});
    EXPECT_TRUE(contains(bad_name, "RANCHER_CREDENTIAL_NAME=\"Bad_Name\" is invalid")) << bad_name;
    EXPECT_TRUE(contains(bad_name, "DNS-1123"));
    EXPECT_TRUE(contains(failure_of({{"RANCHER_NAMESPACE", "apps,Jobs"}}), "RANCHER_NAMESPACE"));
    EXPECT_TRUE(contains(failure_of({{"RANCHER_NAMESPACE", "apps,,jobs"}}), "RANCHER_NAMESPACE"));
    auto missing_bundle = failure_of({{"CATTLE_CA_BUNDLE", "/nonexistent/ca.pem"}});
    EXPECT_TRUE(contains(missing_bundle, "CATTLE_CA_BUNDLE=\"/nonexistent/ca.pem\" cannot be used")) << missing_bundle;
}

TEST(load_config, targets_file_and_the_rancher_concurrency) {
    auto config = load({{"TARGETS_FILE", "/etc/ecr/targets.yaml"}, {"RANCHER_MAX_CONCURRENCY", "3"}});
    ASSERT_TRUE(config.has_value()) << config.error().message;
    EXPECT_EQ(config->targets_file, "/etc/ecr/targets.yaml");
    EXPECT_EQ(config->rancher_max_concurrency, 3u);
    EXPECT_EQ(load({})->rancher_max_concurrency, 8u);
    for (auto bad : {"0", "257", "many", "-1"}) {
        auto refused = load({{"RANCHER_MAX_CONCURRENCY", bad}});
        ASSERT_FALSE(refused.has_value()) << bad;
        EXPECT_TRUE(contains(refused.error().message, "RANCHER_MAX_CONCURRENCY")) << refused.error().message;
        EXPECT_TRUE(contains(refused.error().message, "1 to 256")) << refused.error().message;
    }
}

TEST(parse_command_line, targets_names_a_file_beside_a_mode) {
    auto parsed = parse({"--targets", "/etc/t.yaml", "--once"});
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->mode, run_mode::once);
    EXPECT_EQ(parsed->targets_file, "/etc/t.yaml");
    EXPECT_EQ(parse({"--targets=/x.yaml"})->targets_file, "/x.yaml");
    auto missing = parse({"--targets"});
    ASSERT_FALSE(missing.has_value());
    EXPECT_TRUE(contains(missing.error().message, "--targets needs a file")) << missing.error().message;
}

}  // namespace
}  // namespace rancher_ecr
