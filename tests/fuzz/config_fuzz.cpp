// Every configuration value: load_config over an environment of fuzzed values, the AWS credential
// chain's plan (plan_credentials, instance_metadata_settings) over the same environment and a shared
// file, and the command line. The input is lines of NAME=VALUE, then after a NUL byte the text of
// the AWS shared file (read as both ~/.aws/config and ~/.aws/credentials). Every value is an
// argument of the command line as well.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "app/config.hpp"
#include "aws/credential_chain.hpp"
#include "aws/shared_config.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace rancher_ecr;
using rancher_ecr::fuzz::contains;

// Put into every secret by the target itself: no message may show it.
constexpr std::string_view secret_marker = "Zq7pAsSwOrDmArKeR7qZ";

constexpr std::array<std::string_view, 30> variable_names{
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ECR_REGISTRY_IDS", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS", "AWS_CA_BUNDLE", "CATTLE_URL", "CATTLE_ACCESS_KEY", "CATTLE_SECRET_KEY",
    "CATTLE_CA_BUNDLE", "RANCHER_PROJECT", "RANCHER_NAMESPACE", "RANCHER_CREDENTIAL_NAME", "TARGETS_FILE",
    "RANCHER_MAX_CONCURRENCY",
    "AUTO_CREATE", "LOG_LEVEL", "LOG_FORMAT", "LISTEN_ADDRESS", "LISTEN_PORT", "REFRESH_INTERVAL",
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
    // Not read by load_config; they must not change what it does.
    "AWS_SECRET_ACCESS_KEY", "PATH"};

// The secrets among the variables, and among a shared file's keys.
constexpr std::array<std::string_view, 6> secret_variables{
    "CATTLE_ACCESS_KEY", "CATTLE_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN"};
constexpr std::array<std::string_view, 2> secret_keys{"aws_secret_access_key", "aws_session_token"};

// Variables whose value may hold a password in its user info ("scheme://user:password@host").
constexpr std::array<std::string_view, 10> url_variables{
    "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "CATTLE_URL",
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_SERVICE_ENDPOINT"};

using variables = std::map<std::string, std::string, std::less<>>;

variables read_variables(std::string_view input) {
    input = input.substr(0, input.find('\0'));
    variables out;
    while (!input.empty()) {
        auto const end = input.find('\n');
        auto line = input.substr(0, end);
        input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
        auto const equals = line.find('=');
        if (equals == std::string_view::npos || equals == 0) continue;
        out[std::string{line.substr(0, equals)}] = std::string{line.substr(equals + 1)};
    }
    return out;
}

bool is_digits(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

void check_config(service_config const& config, variables const& vars) {
    std::string const context = "a valid configuration";
    FUZZ_CHECK(config.region.empty() || is_region_name(config.region), config.region);
    FUZZ_CHECK(config.registry_ids.size() <= 10, context);
    for (auto const& id : config.registry_ids) {
        FUZZ_CHECK(id.size() == 12 && is_digits(id), id);
        FUZZ_CHECK(std::ranges::count(config.registry_ids, id) == 1, id);
    }
    FUZZ_CHECK(config.listen_port >= 1, context);
    FUZZ_CHECK(config.refresh_interval >= std::chrono::milliseconds{1}, context);
    FUZZ_CHECK(config.refresh_interval <= std::chrono::hours{24}, context);
    in6_addr address{};
    FUZZ_CHECK(inet_pton(AF_INET, config.listen_address.c_str(), &address) == 1 ||
                   inet_pton(AF_INET6, config.listen_address.c_str(), &address) == 1,
               config.listen_address);
    for (auto const* endpoint : {&config.ecr_endpoint, &config.sts_endpoint, &config.rancher_url}) {
        if (*endpoint) FUZZ_CHECK(!(*endpoint)->host.empty() && (*endpoint)->port != 0, (*endpoint)->text());
    }
    // Both Rancher keys or neither.
    FUZZ_CHECK(config.rancher_access_key.empty() == config.rancher_secret_key.empty(), context);
    if (auto it = vars.find("CATTLE_SECRET_KEY"); it != vars.end() && !it->second.empty())
        FUZZ_CHECK(config.rancher_secret_key == it->second, context);
}

void check_failure(failure const& f) {
    FUZZ_CHECK(f.kind == failure_kind::config, f.message);
    FUZZ_CHECK(!f.retryable, f.message);
    // The message names the variable first, and cannot garble a log line or forge one.
    FUZZ_CHECK(std::ranges::any_of(variable_names, [&](std::string_view name) { return f.message.starts_with(name); }),
               f.message);
    FUZZ_CHECK(fuzz::no_control_characters(f.message), f.message);
    FUZZ_CHECK(!contains(f.message, secret_marker), f.message);
}

void check_credential_plan(variables const& vars, std::string_view input) {
    auto const nul = input.find('\0');
    auto const file = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);
    if (contains(file, secret_marker)) return;
    auto sections = parse_ini(file);
    for (auto& [name, keys] : sections)
        for (auto key : secret_keys)
            if (auto it = keys.find(key); it != keys.end() && !it->second.empty()) it->second += secret_marker;
    shared_profiles profiles;
    profiles.profiles = merge_profiles(sections, sections);
    profiles.config_file = "/home/user/.aws/config";
    profiles.credentials_file = "/home/user/.aws/credentials";
    auto const env = environment_from(vars);
    if (auto name = env("AWS_DEFAULT_PROFILE"); name && !name->empty()) {
        profiles.selected = *name;
        profiles.selected_explicitly = true;
    } else if (auto profile = env("AWS_PROFILE"); profile && !profile->empty()) {
        profiles.selected = *profile;
        profiles.selected_explicitly = true;
    } else {
        profiles.selected = "default";
    }

    auto plan = plan_credentials(env, profiles);
    if (!plan) {
        FUZZ_CHECK(plan.error().kind == failure_kind::config, plan.error().message);
        FUZZ_CHECK(!contains(plan.error().message, secret_marker), plan.error().message);
        FUZZ_CHECK(fuzz::no_control_characters(plan.error().message), plan.error().message);
    } else {
        FUZZ_CHECK(!contains(describe(*plan), secret_marker), describe(*plan));
        for (auto const& reason : plan->passed_over) FUZZ_CHECK(!contains(reason, secret_marker), reason);
        if (auto const* keys = std::get_if<fixed_keys>(&plan->base)) {
            FUZZ_CHECK(!keys->credentials.access_key_id.empty(), describe(*plan));
            FUZZ_CHECK(!keys->credentials.secret_access_key.empty(), describe(*plan));
        }
        if (auto const* container = std::get_if<container_endpoint>(&plan->base))
            FUZZ_CHECK(is_allowed_container_endpoint(container->endpoint), container->endpoint.text());
        for (auto const& role : plan->roles) FUZZ_CHECK(!role.role_arn.empty(), describe(*plan));
    }
    auto metadata = instance_metadata_settings(env);
    if (!metadata) {
        FUZZ_CHECK(metadata.error().kind == failure_kind::config, metadata.error().message);
        FUZZ_CHECK(fuzz::no_control_characters(metadata.error().message), metadata.error().message);
    } else if (*metadata) {
        FUZZ_CHECK(!(*metadata)->endpoint.host.empty(), (*metadata)->endpoint.text());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const input{reinterpret_cast<char const*>(data), size};
    auto vars = read_variables(input);
    // The fuzzer may copy the marker itself; secrets get it from here only.
    for (auto const& [name, value] : vars)
        if (contains(value, secret_marker) || contains(name, secret_marker)) return 0;
    for (auto name : secret_variables)
        if (auto it = vars.find(name); it != vars.end() && !it->second.empty()) it->second += secret_marker;
    for (auto name : url_variables) {
        auto it = vars.find(name);
        if (it == vars.end()) continue;
        if (auto at = it->second.rfind('@'); at != std::string::npos) it->second.insert(at, secret_marker);
    }

    auto config = load_config(environment_from(vars));
    if (config) {
        check_config(*config, vars);
    } else {
        check_failure(config.error());
    }

    check_credential_plan(vars, input);

    std::vector<std::string> arguments{"rancher-ecr-credentials"};
    for (auto const& [name, value] : vars) arguments.push_back(value);
    std::vector<char const*> argv;
    for (auto const& argument : arguments) argv.push_back(argument.c_str());
    auto command = parse_command_line(static_cast<int>(argv.size()), argv.data());
    bool const asks_help = std::ranges::any_of(arguments, [](auto const& a) { return a == "--help" || a == "-h"; });
    if (asks_help) FUZZ_CHECK(command && command->mode == run_mode::help, input);
    if (!command) {
        FUZZ_CHECK(command.error().kind == failure_kind::config, command.error().message);
        FUZZ_CHECK(fuzz::no_control_characters(command.error().message), command.error().message);
    }
    return 0;
}
