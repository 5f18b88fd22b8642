#include "app/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <span>
#include <system_error>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "ascii_text.hpp"
#include "rancher/norman_resources.hpp"

namespace rancher_ecr {

namespace {

// ECR's GetAuthorizationToken takes at most this many registry ids.
constexpr std::size_t max_registry_ids = 10;
constexpr std::chrono::milliseconds max_refresh_interval = std::chrono::hours{24};

struct setting {
    std::string_view name;
    std::string value;
};

// The first of `names` that is set to a non-empty value: empty counts as unset.
std::optional<setting> read(environment const& env, std::initializer_list<std::string_view> names) {
    for (auto name : names) {
        if (auto value = read_variable(env, name)) return setting{name, std::move(*value)};
    }
    return std::nullopt;
}

// The value as it may appear in a message: control characters escaped (they would garble the
// log or forge lines), long values cut short.
std::string printable(std::string_view value) {
    constexpr std::size_t max_shown = 100;
    std::string out = "\"";
    for (unsigned char c : value.substr(0, max_shown)) {
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            constexpr std::string_view hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += value.size() > max_shown ? "\"..." : "\"";
    return out;
}

failure invalid(setting const& s, std::string_view expected) {
    return make_failure(failure_kind::config,
        std::string{s.name} + "=" + printable(s.value) + " is invalid; expected " + std::string{expected});
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (std::size_t begin = 0;;) {
        auto end = text.find(separator, begin);
        parts.push_back(text.substr(begin, end - begin));
        if (end == std::string_view::npos) return parts;
        begin = end + 1;
    }
}

bool is_digits(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

bool is_lower_letters(std::string_view text) {
    return !text.empty() && std::ranges::all_of(text, [](char c) { return c >= 'a' && c <= 'z'; });
}

result<std::string> read_region(environment const& env) {
    // Optional here: the profile's region or the instance's may stand in (resolved at start).
    auto region = read(env, {"AWS_REGION", "AWS_DEFAULT_REGION"});
    if (!region) return std::string{};
    if (!is_region_name(region->value))
        return invalid(*region, "an AWS region name in lower case, such as us-east-1, eu-central-2 or us-gov-west-1");
    return std::move(region->value);
}

result<std::vector<std::string>> read_registry_ids(environment const& env) {
    std::vector<std::string> ids;
    auto list = read(env, {"AWS_ECR_REGISTRY_IDS"});
    if (!list) return ids;
    for (auto item : split(list->value, ',')) {
        item = trim(item);
        if (item.empty()) continue;
        if (item.size() != 12 || !is_digits(item)) {
            return make_failure(failure_kind::config,
                "AWS_ECR_REGISTRY_IDS item " + printable(item) +
                    " is not an AWS account id; expected 12-digit ids separated by commas, "
                    "e.g. 123456789012,210987654321");
        }
        if (std::ranges::find(ids, item) == ids.end()) ids.emplace_back(item);
    }
    if (ids.size() > max_registry_ids) {
        return make_failure(failure_kind::config,
            "AWS_ECR_REGISTRY_IDS lists " + std::to_string(ids.size()) +
                " distinct registry ids; ECR accepts at most " + std::to_string(max_registry_ids));
    }
    return ids;
}

result<std::optional<url>> read_url(environment const& env, std::initializer_list<std::string_view> names,
    std::string_view example) {
    auto text = read(env, names);
    if (!text) return std::optional<url>{};
    // User info may hold a password. AWS secrets often contain '/', which ends the authority as
    // parse_url reads it, so its masking never sees the '@': refuse any '@' without quoting the value.
    if (text->value.find('@') != std::string::npos) {
        return make_failure(failure_kind::config,
            std::string{text->name} + " must not contain user info (user:password@); expected an http:// or "
                "https:// URL such as " + std::string{example} + " (the value is not shown: it may hold a password)");
    }
    auto parsed = parse_url(text->value);
    if (!parsed) {
        return make_failure(failure_kind::config,
            std::string{text->name} + " must be an http:// or https:// URL such as " + std::string{example} +
                "; " + parsed.error().message);
    }
    return std::optional<url>{std::move(*parsed)};
}

result<std::optional<std::string>> read_ca_bundle(environment const& env, std::string_view name) {
    auto path = read(env, {name});
    if (!path) return std::optional<std::string>{};
    constexpr std::string_view expected = "; expected the path of a readable PEM file of CA certificates";
    auto problem = [&](std::string_view what) {
        return make_failure(failure_kind::config,
            std::string{name} + "=" + printable(path->value) + " " + std::string{what} + std::string{expected});
    };
    std::error_code error;
    auto status = std::filesystem::status(path->value, error);
    if (error) return problem("cannot be used: " + error.message());
    if (!std::filesystem::is_regular_file(status)) return problem("is not a regular file");
    if (!std::ifstream{path->value}) return problem("cannot be opened for reading");
    return std::optional<std::string>{std::move(path->value)};
}

result<bool> read_bool(environment const& env, std::string_view name, bool default_value) {
    auto text = read(env, {name});
    if (!text) return default_value;
    auto value = lower(text->value);
    if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
    if (value == "false" || value == "0" || value == "no" || value == "off") return false;
    return invalid(*text, "true, false, 1, 0, yes, no, on or off");
}

result<log_level> read_log_level(environment const& env) {
    auto text = read(env, {"LOG_LEVEL"});
    if (!text) return log_level::info;
    auto value = lower(text->value);
    if (value == "trace") return log_level::trace;
    if (value == "debug") return log_level::debug;
    if (value == "info") return log_level::info;
    if (value == "warn" || value == "warning") return log_level::warn;
    if (value == "error") return log_level::error;
    return invalid(*text, "trace, debug, info, warn or error");
}

result<log_format> read_log_format(environment const& env) {
    auto text = read(env, {"LOG_FORMAT"});
    if (!text) return log_format::text;
    auto value = lower(text->value);
    if (value == "text") return log_format::text;
    if (value == "json") return log_format::json;
    return invalid(*text, "text or json");
}

result<std::string> read_listen_address(environment const& env) {
    auto text = read(env, {"LISTEN_ADDRESS"});
    if (!text) return std::string{"0.0.0.0"};
    in6_addr address{};  // large enough for either family
    if (inet_pton(AF_INET, text->value.c_str(), &address) != 1 &&
        inet_pton(AF_INET6, text->value.c_str(), &address) != 1) {
        return invalid(*text, "an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or :: (no brackets, no host name)");
    }
    return std::move(text->value);
}

// Digits only: from_chars alone would also take a leading '-' or '+'.
std::optional<std::uint64_t> parse_whole_number(std::string_view text) {
    std::uint64_t value = 0;
    if (!is_digits(text)) return std::nullopt;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

result<std::uint16_t> read_listen_port(environment const& env) {
    auto text = read(env, {"LISTEN_PORT"});
    if (!text) return std::uint16_t{8080};
    auto value = parse_whole_number(text->value);
    if (!value || *value < 1 || *value > 65535) return invalid(*text, "a port number from 1 to 65535");
    return static_cast<std::uint16_t>(*value);
}

result<std::chrono::milliseconds> read_refresh_interval(environment const& env) {
    auto text = read(env, {"REFRESH_INTERVAL"});
    if (!text) return std::chrono::milliseconds{std::chrono::hours{6}};
    constexpr std::string_view expected =
        "a whole number with an optional unit ms, s, m or h, such as 90s, 30m, 6h or 3600 (seconds), from 1ms "
        "to 24h";
    std::string_view number = text->value;
    std::uint64_t unit_ms = 1000;  // plain numbers are seconds
    if (number.ends_with("ms")) {
        unit_ms = 1;
        number.remove_suffix(2);
    } else {
        switch (number.back()) {
            case 'h': unit_ms = 3'600'000; number.remove_suffix(1); break;
            case 'm': unit_ms = 60'000; number.remove_suffix(1); break;
            case 's': number.remove_suffix(1); break;
            default: break;
        }
    }
    auto value = parse_whole_number(number);
    if (!value) return invalid(*text, expected);
    // Compare before multiplying so that a huge number cannot overflow.
    auto const max_ms = static_cast<std::uint64_t>(max_refresh_interval.count());
    if (*value == 0 || *value > max_ms / unit_ms) return invalid(*text, expected);
    return std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(*value * unit_ms)};
}

// A proxy URL may hold a password: messages quote it with the user info masked.
result<std::optional<proxy_server>> read_proxy(environment const& env, std::initializer_list<std::string_view> names) {
    auto text = read(env, names);
    if (!text) return std::optional<proxy_server>{};
    auto proxy = parse_proxy_url(text->value);
    if (!proxy)
        return make_failure(failure_kind::config, std::string{text->name} + " is invalid: " + proxy.error().message);
    return std::optional<proxy_server>{std::move(*proxy)};
}

// The uppercase variables win over the lowercase ones when both are set, as in Go.
result<proxy_settings> read_proxy_settings(environment const& env) {
    proxy_settings proxies;
    auto https = read_proxy(env, {"HTTPS_PROXY", "https_proxy"});
    if (!https) return https.error();
    proxies.https = std::move(*https);
    auto http = read_proxy(env, {"HTTP_PROXY", "http_proxy"});
    if (!http) return http.error();
    proxies.http = std::move(*http);
    if (auto list = read(env, {"NO_PROXY", "no_proxy"})) {
        auto rules = parse_no_proxy(list->value);
        if (!rules) {
            return make_failure(failure_kind::config,
                std::string{list->name} + "=" + printable(list->value) + " is invalid: " + rules.error().message);
        }
        proxies.no_proxy = std::move(*rules);
    }
    return proxies;
}

// The Rancher keys are secrets: messages name the variables, never their values.
result<std::pair<std::string, std::string>> read_rancher_keys(environment const& env) {
    auto access = read(env, {"CATTLE_ACCESS_KEY"});
    auto secret = read(env, {"CATTLE_SECRET_KEY"});
    if (access && !secret) {
        return make_failure(failure_kind::config,
            "CATTLE_SECRET_KEY is not set but CATTLE_ACCESS_KEY is; set both Rancher API keys or neither");
    }
    if (secret && !access) {
        return make_failure(failure_kind::config,
            "CATTLE_ACCESS_KEY is not set but CATTLE_SECRET_KEY is; set both Rancher API keys or neither");
    }
    if (!access) return std::pair<std::string, std::string>{};
    return std::pair{std::move(access->value), std::move(secret->value)};
}

// CATTLE_URL's API (rancher_url), RANCHER_PROJECT, RANCHER_NAMESPACE, RANCHER_CREDENTIAL_NAME and
// CATTLE_CA_BUNDLE into `config`, whose rancher_url is read.
result<void> read_rancher_2_settings(environment const& env, service_config& config) {
    if (config.rancher_url) {
        auto choice = classify_cattle_url(*config.rancher_url);
        if (!choice) return choice.error();
        config.rancher_api = choice->generation;
        config.rancher_project = std::move(choice->project);
    }
    auto project = read(env, {"RANCHER_PROJECT"});
    if (project) {
        auto const& value = project->value;
        if (!is_project_reference(value))
            return invalid(*project, "a project id (c-abcde:p-xyz12), a project name (Default) or cluster/project "
                                     "(local/Default)");
        if (!config.rancher_project.empty() && config.rancher_project != value)
            return make_failure(failure_kind::config, "RANCHER_PROJECT=" + printable(value) +
                                                          " conflicts with the project in CATTLE_URL (" +
                                                          config.rancher_project + "); unset one of them");
        if (config.rancher_api == rancher_generation::cattle)
            return make_failure(failure_kind::config,
                                "RANCHER_PROJECT is for Rancher 2.x, but CATTLE_URL names a Rancher 1.x API (its "
                                "path is not /v3); unset RANCHER_PROJECT, or give CATTLE_URL as https://HOST/v3");
        config.rancher_project = value;
    }
    if (config.rancher_api == rancher_generation::norman && config.rancher_project.empty())
        return make_failure(failure_kind::config,
                            "RANCHER_PROJECT is not set; Rancher 2.x (CATTLE_URL ends in /v3) needs the project "
                            "to write to: its id (c-abcde:p-xyz12), its name (Default) or cluster/project "
                            "(local/Default), or CATTLE_URL as .../v3/projects/<id>");
    if (auto namespaces = read(env, {"RANCHER_NAMESPACE"})) {
        for (auto part : split(namespaces->value, ',')) {
            auto name = trim(part);
            if (!is_dns1123_label(name)) return invalid(*namespaces, "a namespace name or a comma list of them (apps,jobs)");
            if (std::ranges::find(config.rancher_namespaces, name) == config.rancher_namespaces.end())
                config.rancher_namespaces.emplace_back(name);
        }
    }
    if (auto name = read(env, {"RANCHER_CREDENTIAL_NAME"})) {
        if (!is_dns1123_subdomain(name->value))
            return invalid(*name, "a DNS-1123 name: lower-case letters, digits, '-' and '.', starting and ending with "
                                  "a letter or digit, at most 253 characters");
        config.rancher_credential_name = std::move(name->value);
    }
    auto bundle = read_ca_bundle(env, "CATTLE_CA_BUNDLE");
    if (!bundle) return bundle.error();
    config.rancher_ca_bundle = std::move(*bundle);
    return {};
}

}  // namespace

// A project id, c-abcde:p-xyz12 (local:p-xyz12 on the local cluster).
bool is_project_id(std::string_view text) {
    auto const colon = text.find(':');
    return colon != std::string_view::npos && is_dns1123_label(text.substr(0, colon)) &&
           is_dns1123_label(text.substr(colon + 1));
}

// An id (with ':'), or a name or cluster/project: printable, with text on both sides of a '/'.
bool is_project_reference(std::string_view text) {
    if (text.find(':') != std::string_view::npos) return is_project_id(text);
    auto const slash = text.find('/');
    bool const printable_text =
        text.size() <= 253 && std::ranges::none_of(text, [](unsigned char c) { return c < 0x20 || c == 0x7f; });
    return printable_text && (slash == std::string_view::npos || (slash > 0 && slash + 1 < text.size()));
}

// <area>[-<partition>]-<direction>-<number>: us-east-1, il-central-1, us-gov-west-1,
// us-isob-east-1.
bool is_region_name(std::string_view name) {
    auto parts = split(name, '-');
    if (parts.size() != 3 && parts.size() != 4) return false;
    if (parts.front().size() != 2) return false;
    if (!std::all_of(parts.begin(), parts.end() - 1, is_lower_letters)) return false;
    return is_digits(parts.back()) && parts.back().size() <= 2;
}

std::string_view to_string(log_level level) {
    switch (level) {
        case log_level::trace: return "trace";
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warn: return "warn";
        case log_level::error: return "error";
    }
    return "info";
}

std::string_view to_string(log_format format) {
    switch (format) {
        case log_format::text: return "text";
        case log_format::json: return "json";
    }
    return "text";
}

result<service_config> load_config(environment const& env) {
    service_config config;

    auto region = read_region(env);
    if (!region) return region.error();
    config.region = std::move(*region);

    auto registry_ids = read_registry_ids(env);
    if (!registry_ids) return registry_ids.error();
    config.registry_ids = std::move(*registry_ids);

    auto ecr_endpoint = read_url(env, {"AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL"}, "http://127.0.0.1:5000");
    if (!ecr_endpoint) return ecr_endpoint.error();
    config.ecr_endpoint = std::move(*ecr_endpoint);

    auto sts_endpoint = read_url(env, {"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"}, "http://127.0.0.1:5000");
    if (!sts_endpoint) return sts_endpoint.error();
    config.sts_endpoint = std::move(*sts_endpoint);

    auto ca_bundle = read_ca_bundle(env, "AWS_CA_BUNDLE");
    if (!ca_bundle) return ca_bundle.error();
    config.ca_bundle = std::move(*ca_bundle);

    auto rancher_url = read_url(env, {"CATTLE_URL"}, "https://rancher.example.com");
    if (!rancher_url) return rancher_url.error();
    config.rancher_url = std::move(*rancher_url);

    auto rancher_keys = read_rancher_keys(env);
    if (!rancher_keys) return rancher_keys.error();
    config.rancher_access_key = std::move(rancher_keys->first);
    config.rancher_secret_key = std::move(rancher_keys->second);

    auto rancher_2 = read_rancher_2_settings(env, config);
    if (!rancher_2) return rancher_2.error();

    auto auto_create = read_bool(env, "AUTO_CREATE", false);
    if (!auto_create) return auto_create.error();
    config.auto_create = *auto_create;

    auto level = read_log_level(env);
    if (!level) return level.error();
    config.level = *level;

    auto format = read_log_format(env);
    if (!format) return format.error();
    config.format = *format;

    auto listen_address = read_listen_address(env);
    if (!listen_address) return listen_address.error();
    config.listen_address = std::move(*listen_address);

    auto listen_port = read_listen_port(env);
    if (!listen_port) return listen_port.error();
    config.listen_port = *listen_port;

    auto proxies = read_proxy_settings(env);
    if (!proxies) return proxies.error();
    config.proxies = std::move(*proxies);

    if (auto file = read(env, {"TARGETS_FILE"})) config.targets_file = std::move(file->value);

    if (auto limit = read(env, {"RANCHER_MAX_CONCURRENCY"})) {
        auto number = parse_whole_number(limit->value);
        if (!number || *number < 1 || *number > 256) return invalid(*limit, "a whole number from 1 to 256");
        config.rancher_max_concurrency = static_cast<unsigned>(*number);
    }

    auto refresh_interval = read_refresh_interval(env);
    if (!refresh_interval) return refresh_interval.error();
    config.refresh_interval = *refresh_interval;

    return config;
}

result<command_line> parse_command_line(int argc, char const* const* argv) {
    std::span<char const* const> args{argv, static_cast<std::size_t>(std::max(argc, 0))};
    if (!args.empty()) args = args.subspan(1);  // the program name

    // --help wins wherever it is, so that "--once --help" explains instead of running.
    for (std::string_view arg : args) {
        if (arg == "--help" || arg == "-h") return command_line{run_mode::help, {}};
    }

    constexpr std::array<std::pair<std::string_view, run_mode>, 3> modes{{
        {"--once", run_mode::once},
        {"--version", run_mode::version},
        {"healthcheck", run_mode::healthcheck},
    }};
    command_line parsed;
    std::string_view chosen;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--targets" || arg.starts_with("--targets=")) {
            std::string_view file = arg == "--targets" ? (i + 1 < args.size() ? args[++i] : "") : arg.substr(10);
            if (file.empty())
                return make_failure(failure_kind::config, "--targets needs a file: --targets /etc/ecr/targets.yaml");
            parsed.targets_file = std::string{file};
            continue;
        }
        auto mode = std::ranges::find(modes, arg, &std::pair<std::string_view, run_mode>::first);
        if (mode == modes.end()) {
            return make_failure(failure_kind::config,
                "unknown argument " + printable(arg) + "; see --help for the accepted arguments");
        }
        if (!chosen.empty()) {
            return make_failure(failure_kind::config,
                printable(chosen) + " and " + printable(arg) + " cannot be combined; see --help");
        }
        chosen = arg;
        parsed.mode = mode->second;
    }
    return parsed;
}

std::string usage_text() {
    return R"(Usage: rancher-ecr-credentials [--targets FILE] [--once | healthcheck | --version | --help]

Keeps Rancher's registry credentials for Amazon ECR valid.

Modes:
  (none)         refresh every REFRESH_INTERVAL; serve /healthz and /metrics
  --once         refresh one time, then exit
  healthcheck    probe the running service's /healthz (container HEALTHCHECK)
  --targets FILE many targets from a YAML file (as TARGETS_FILE; see the README)
  --version      print the version
  -h, --help     print this help

Environment (an empty value counts as unset):
  AWS_REGION             ECR's region, e.g. us-east-1 (else AWS_DEFAULT_REGION, else the
                         profile's region, else the EC2 instance's)
  AWS_ECR_REGISTRY_IDS   up to 10 account ids, comma-separated (default: the caller's account)
  AWS_ENDPOINT_URL_ECR   ECR endpoint URL (else AWS_ENDPOINT_URL; default: AWS's)
  AWS_ENDPOINT_URL_STS   STS endpoint URL (else AWS_ENDPOINT_URL; default: the region's)

AWS credentials, from the first of these that is configured:
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                         keys
  AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME
                         web identity (EKS IRSA), through STS
  AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE
                         a profile of ~/.aws/credentials or ~/.aws/config
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI,
  AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
                         container credentials (ECS task role, EKS Pod Identity)
  AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_V1_DISABLED
                         the EC2 instance profile (instance metadata)
  AWS_ROLE_ARN without a web identity token: that role is assumed with the credentials found
  AWS_CA_BUNDLE          PEM file of extra trusted CA certificates (default: none)
  CATTLE_URL             Rancher API URL: .../v2-beta (1.x), .../v3 (2.x), or the bare origin
                         (the API is found with GET /v3)
  CATTLE_ACCESS_KEY, CATTLE_SECRET_KEY
                         Rancher API keys
  AUTO_CREATE            create missing registries in Rancher: true|false (default false)
  RANCHER_PROJECT        Rancher 2.x: the project, by id, name or cluster/project
  RANCHER_NAMESPACE      Rancher 2.x: namespace(s), comma-separated, for namespaced credentials
                         (default: project-wide credentials)
  RANCHER_CREDENTIAL_NAME
                         Rancher 2.x: the name of a credential AUTO_CREATE creates
                         (default ecr-<account>-<region>)
  CATTLE_CA_BUNDLE       PEM file of CA certificates trusted for Rancher only (default: none)
  TARGETS_FILE           YAML file of many targets (Rancher environments, projects, AWS
                         accounts and regions); CATTLE_URL must be unset then; SIGHUP re-reads it
  RANCHER_MAX_CONCURRENCY
                         requests at a time to one Rancher server, 1 to 256 (default 8)
  LOG_LEVEL              trace|debug|info|warn|error (default info)
  LOG_FORMAT             text|json (default text)
  LISTEN_ADDRESS         address of /healthz and /metrics (default 0.0.0.0)
  LISTEN_PORT            port of /healthz and /metrics (default 8080)
  REFRESH_INTERVAL       90s, 30m, 6h or seconds, 1ms to 24h (default 6h)
  HTTPS_PROXY, HTTP_PROXY
                         http://[user:password@]host[:port] of the proxy for https:// and
                         http:// targets (else https_proxy, http_proxy; default: none)
  NO_PROXY               targets that go direct: host names (and their subdomains), IP
                         addresses, CIDR ranges, host:port, or * (else no_proxy)

Exit status: 0 on success, 2 on bad configuration or arguments (or no AWS credentials or region
at start), 1 on other failures.
)";
}

}  // namespace rancher_ecr
