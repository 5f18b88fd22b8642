#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "environment.hpp"
#include "error.hpp"
#include "net/proxy.hpp"
#include "net/url.hpp"
#include "rancher/rancher_url.hpp"

namespace rancher_ecr {

// How much the service logs; mapped onto spdlog in one place (obs/logging).
enum class log_level { trace, debug, info, warn, error };

// How log lines are written: human-readable text or one JSON object per line.
enum class log_format { text, json };

// "trace", "debug", "info", "warn", "error".
std::string_view to_string(log_level level);
// "text", "json".
std::string_view to_string(log_format format);

// The service's settings, read from the environment. Empty variables count as unset.
// The Rancher keys are secrets: never log or format them.
struct service_config {
    // AWS_REGION, else AWS_DEFAULT_REGION: the region whose ECR is asked, e.g. us-east-1. Empty when
    // neither is set: the service then takes the profile's region or the instance's (app/aws_setup).
    std::string region;
    // AWS_ECR_REGISTRY_IDS: up to 10 12-digit account ids, comma-separated; none = the caller's account.
    std::vector<std::string> registry_ids;
    // AWS_ENDPOINT_URL_ECR, else AWS_ENDPOINT_URL: http(s) URL replacing the ECR endpoint (emulators).
    std::optional<url> ecr_endpoint;
    // AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL: http(s) URL replacing the STS endpoint (emulators).
    std::optional<url> sts_endpoint;
    // AWS_CA_BUNDLE: PEM file of CA certificates trusted besides the system store.
    std::optional<std::string> ca_bundle;
    // CATTLE_URL: http(s) URL of the Rancher API.
    std::optional<url> rancher_url;
    // CATTLE_ACCESS_KEY: Rancher API access key (secret; set together with CATTLE_SECRET_KEY).
    std::string rancher_access_key;
    // CATTLE_SECRET_KEY: Rancher API secret key (secret; set together with CATTLE_ACCESS_KEY).
    std::string rancher_secret_key;
    // Which API CATTLE_URL names (rancher_url.hpp: classify_cattle_url); nullopt for a bare origin,
    // asked at the first refresh (GET /v3).
    std::optional<rancher_generation> rancher_api;
    // RANCHER_PROJECT, or the project id in CATTLE_URL (2.x): an id, a name or cluster/project.
    // Required when CATTLE_URL is a 2.x API; refused with a 1.x one.
    std::string rancher_project;
    // RANCHER_NAMESPACE (2.x): namespaces, comma-separated, each a DNS-1123 label; none writes the
    // project-wide dockerCredentials, else each namespace's namespacedDockerCredentials.
    std::vector<std::string> rancher_namespaces;
    // RANCHER_CREDENTIAL_NAME (2.x): a DNS-1123 name for what AUTO_CREATE creates; default
    // ecr-<account>-<region>, one credential per account.
    std::optional<std::string> rancher_credential_name;
    // CATTLE_CA_BUNDLE: PEM file of CA certificates trusted for Rancher only, besides the system store.
    std::optional<std::string> rancher_ca_bundle;
    // AUTO_CREATE: create missing registries in Rancher: true/false, 1/0, yes/no, on/off; default false.
    bool auto_create = false;
    // LOG_LEVEL: trace, debug, info, warn (or warning), error; default info.
    log_level level = log_level::info;
    // LOG_FORMAT: text or json (one object per line); default text.
    log_format format = log_format::text;
    // LISTEN_ADDRESS: IPv4 or IPv6 literal for the /healthz and /metrics server; default 0.0.0.0.
    std::string listen_address = "0.0.0.0";
    // LISTEN_PORT: that server's port, 1 to 65535; default 8080.
    std::uint16_t listen_port = 8080;
    // HTTPS_PROXY (else https_proxy) for https:// targets, HTTP_PROXY (else http_proxy) for http://
    // ones, NO_PROXY (else no_proxy) for the targets that go direct: ECR, STS, Rancher and the
    // container credential endpoint; never the instance's own link (net/proxy).
    proxy_settings proxies;
    // TARGETS_FILE (or --targets, which wins): a YAML file of many targets (app/targets_file); CATTLE_URL
    // must be unset then.
    std::optional<std::string> targets_file;
    // RANCHER_MAX_CONCURRENCY: requests at a time to one Rancher origin, 1 to 256; default 8.
    unsigned rancher_max_concurrency = 8;
    // REFRESH_INTERVAL: time between refreshes: 90s, 30m, 6h or plain seconds, 1ms (500ms, for tests and
    // benchmarks) to 24h; default 6h.
    std::chrono::milliseconds refresh_interval = std::chrono::hours{6};
};

// Whether `name` has the form of an AWS region name: us-east-1, il-central-1, us-gov-west-1. Only the
// form is checked, so that new regions work without a release.
bool is_region_name(std::string_view name);

// A project id (c-abcde:p-xyz12), a name (Default) or cluster/project (local/Default).
bool is_project_reference(std::string_view text);
bool is_project_id(std::string_view text);

// Reads and validates every setting. The first invalid or missing one gives a failure of
// kind config whose message names the variable, the bad value (never a secret's value) and
// what is accepted. AWS_CA_BUNDLE is checked to name a readable regular file.
result<service_config> load_config(environment const& env);

// What the program was asked to do.
enum class run_mode {
    run,          // serve and refresh until stopped (default)
    once,         // --once: refresh one time, then exit
    help,         // --help, -h
    version,      // --version
    healthcheck,  // healthcheck: probe the running service's /healthz
};

struct command_line {
    run_mode mode = run_mode::run;
    std::optional<std::string> targets_file;  // --targets FILE (or --targets=FILE)
};

// Parses the arguments after argv[0]. --help (or -h) anywhere wins; otherwise at most one of
// --once, --version and healthcheck is accepted, with --targets FILE beside it. Anything else is a config failure naming the
// argument and pointing to --help.
result<command_line> parse_command_line(int argc, char const* const* argv);

// The --help text: the modes and every environment variable with its default.
std::string usage_text();

}  // namespace rancher_ecr
