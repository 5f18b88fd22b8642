#include "aws/credential_chain.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "ascii_text.hpp"
#include "aws/ecr_endpoint.hpp"
#include "peer_text.hpp"

namespace rancher_ecr {

namespace {

constexpr std::string_view example_role = "arn:aws:iam::123456789012:role/ecr-reader";

bool is_true(std::optional<std::string> const& value) { return value && lower(*value) == "true"; }

failure config_failure(std::string message) { return make_failure(failure_kind::config, std::move(message)); }

// In quotes, control characters as \xHH: a value with a line break would forge a log line.
std::string quoted(std::string_view text) { return "\"" + escape_control_characters(text) + "\""; }

std::optional<std::string> key_of(ini_section const& profile, std::string_view key) {
    auto it = profile.find(key);
    if (it == profile.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

bool has_static_keys(ini_section const& profile) {
    return key_of(profile, "aws_access_key_id") || key_of(profile, "aws_secret_access_key");
}

// A URL from a variable, refusing user info without quoting the value (it may hold a password).
result<url> url_from(std::string_view name, std::string const& value, std::string_view example) {
    if (value.find('@') != std::string::npos) {
        return config_failure(std::string{name} + " must not contain user info (user:password@); expected a URL such as " +
                              std::string{example} + " (the value is not shown: it may hold a password)");
    }
    auto parsed = parse_url(value);
    if (!parsed) {
        return config_failure(std::string{name} + " must be an http:// or https:// URL such as " + std::string{example} +
                              "; " + parsed.error().message);
    }
    return std::move(*parsed);
}

// Walks the selected profile and its source profiles.
class profile_resolver {
public:
    profile_resolver(environment const& env, shared_profiles const& profiles) : env_{env}, profiles_{profiles} {}

    // The plan of the selected profile; nullopt when it gives no credentials (then `why_not` says why).
    result<std::optional<credential_plan>> selected(std::string& why_not) {
        auto const& name = profiles_.selected;
        auto const* profile = profiles_.find(name);
        if (!profile) {
            if (profiles_.selected_explicitly) {
                auto const variable = read_variable(env_, "AWS_DEFAULT_PROFILE") ? "AWS_DEFAULT_PROFILE" : "AWS_PROFILE";
                return config_failure(std::string{variable} + "=" + quoted(name) + " names a profile that is in neither " +
                                      profiles_.where() + "; add it, or correct the variable");
            }
            why_not = "shared files: no profile " + quoted(name) + " in " + profiles_.where();
            return std::optional<credential_plan>{};
        }
        if (!key_of(*profile, "role_arn") && !has_static_keys(*profile)) {
            if (auto unsupported = unsupported_feature(*profile)) {
                return config_failure("profile " + quoted(name) + " gets its credentials through " + *unsupported +
                                      ", which rancher-ecr-credentials does not support; give the profile "
                                      "aws_access_key_id and aws_secret_access_key, or role_arn with source_profile, "
                                      "or use another provider of the chain");
            }
            why_not = "shared files: profile " + quoted(name) + " has no credentials (no aws_access_key_id, no role_arn)";
            return std::optional<credential_plan>{};
        }
        visited_.push_back(name);
        auto plan = resolve(name, *profile, true);
        if (!plan) return plan.error();
        return std::optional<credential_plan>{std::move(*plan)};
    }

private:
    static std::optional<std::string> unsupported_feature(ini_section const& profile) {
        if (key_of(profile, "credential_process")) return "credential_process";
        if (key_of(profile, "sso_session") || key_of(profile, "sso_start_url")) return "AWS IAM Identity Center (sso_*)";
        if (key_of(profile, "login_session")) return "login_session";
        return std::nullopt;
    }

    result<credential_plan> static_keys(std::string const& name, ini_section const& profile) {
        auto access_key_id = key_of(profile, "aws_access_key_id");
        auto secret_access_key = key_of(profile, "aws_secret_access_key");
        if (!access_key_id || !secret_access_key) {
            return config_failure("profile " + quoted(name) + " in " + profiles_.where() + " has " +
                                  (access_key_id ? "aws_access_key_id but no aws_secret_access_key"
                                                 : "aws_secret_access_key but no aws_access_key_id") +
                                  "; give it both keys or neither");
        }
        fixed_keys keys;
        keys.credentials.access_key_id = std::move(*access_key_id);
        keys.credentials.secret_access_key = std::move(*secret_access_key);
        auto token = key_of(profile, "aws_session_token");
        if (!token) token = key_of(profile, "aws_security_token");
        if (token) keys.credentials.session_token = std::move(*token);
        keys.credentials.source = "profile " + name;
        return credential_plan{std::move(keys), {}, {}, false};
    }

    // `top`: the selected profile, where role_arn wins over static keys; in a source profile, static
    // keys win (botocore's rule, which also lets a profile name itself as source_profile).
    result<credential_plan> resolve(std::string const& name, ini_section const& profile, bool top) {
        auto role_arn = key_of(profile, "role_arn");
        if (!role_arn || (!top && has_static_keys(profile))) {
            if (!has_static_keys(profile)) {
                return config_failure("profile " + quoted(name) + " (source_profile of " + quoted(visited_.front()) +
                                      ") has no credentials: expected aws_access_key_id and aws_secret_access_key, "
                                      "or role_arn");
            }
            return static_keys(name, profile);
        }
        role_to_assume role{*role_arn, key_of(profile, "role_session_name").value_or(""),
                            key_of(profile, "external_id").value_or(""), "profile " + name};
        auto source_profile = key_of(profile, "source_profile");
        auto credential_source = key_of(profile, "credential_source");
        auto token_file = key_of(profile, "web_identity_token_file");
        if (source_profile && credential_source) {
            return config_failure("profile " + quoted(name) +
                                  " has both source_profile and credential_source; keep one of them");
        }
        credential_plan plan;
        if (source_profile) {
            auto const* source = profiles_.find(*source_profile);
            if (!source) {
                return config_failure("profile " + quoted(name) + " names source_profile " + quoted(*source_profile) +
                                      ", which is in neither " + profiles_.where());
            }
            if (*source_profile == name) {
                // A profile may be its own source when it holds the keys itself.
                if (!has_static_keys(profile)) return loop_failure(*source_profile);
                auto keys = static_keys(name, profile);
                if (!keys) return keys.error();
                plan = std::move(*keys);
            } else {
                if (std::ranges::find(visited_, *source_profile) != visited_.end()) return loop_failure(*source_profile);
                visited_.push_back(*source_profile);
                auto inner = resolve(*source_profile, *source, false);
                if (!inner) return inner.error();
                plan = std::move(*inner);
            }
        } else if (credential_source) {
            auto base = from_credential_source(name, *credential_source);
            if (!base) return base.error();
            plan = std::move(*base);
        } else if (token_file) {
            return credential_plan{web_identity{*token_file, role.role_arn, role.session_name}, {}, {}, false};
        } else {
            return config_failure("profile " + quoted(name) + " has role_arn but no source_profile, credential_source "
                                  "or web_identity_token_file to assume it with");
        }
        plan.roles.push_back(std::move(role));
        return plan;
    }

    result<credential_plan> from_credential_source(std::string const& name, std::string const& source) {
        if (source == "Environment") {
            auto keys = credentials_from_environment(env_);
            if (!keys) return keys.error();
            if (!*keys) {
                return config_failure("profile " + quoted(name) + " has credential_source = Environment but "
                                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
            }
            return credential_plan{fixed_keys{std::move(**keys)}, {}, {}, false};
        }
        if (source == "Ec2InstanceMetadata") {
            auto metadata = instance_metadata_settings(env_);
            if (!metadata) return metadata.error();
            if (!*metadata) {
                return config_failure("profile " + quoted(name) + " has credential_source = Ec2InstanceMetadata but "
                                      "AWS_EC2_METADATA_DISABLED is true");
            }
            return credential_plan{std::move(**metadata), {}, {}, false};
        }
        if (source == "EcsContainer") {
            std::string why_not;
            auto container = container_settings(env_, why_not);
            if (!container) return container.error();
            if (!*container) {
                return config_failure("profile " + quoted(name) + " has credential_source = EcsContainer but " +
                                      why_not.substr(why_not.find(": ") + 2));
            }
            return credential_plan{std::move(**container), {}, {}, false};
        }
        return config_failure("profile " + quoted(name) + " has credential_source = " + quoted(source) +
                              "; expected Environment, Ec2InstanceMetadata or EcsContainer");
    }

    failure loop_failure(std::string const& repeated) const {
        std::string path;
        for (auto const& step : visited_) path += step + " -> ";
        return config_failure("the profiles form a loop through source_profile (" + path + repeated +
                              "); end the chain with a profile that holds aws_access_key_id and aws_secret_access_key");
    }

public:
    static result<std::optional<container_endpoint>> container_settings(environment const& env, std::string& why_not) {
        container_endpoint container;
        if (auto relative = read_variable(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
            // A path on 169.254.170.2 and nothing else: "0c/x" or ".example.com/x" would name
            // another host, which would get the authorization token (found by tests/fuzz/config_fuzz).
            if (!relative->starts_with('/')) {
                return config_failure("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=" + quoted(*relative) +
                                      " is not a path; expected a path on 169.254.170.2 such as /v2/credentials/<id>");
            }
            auto parsed = url_from("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "http://169.254.170.2" + *relative,
                                   "/v2/credentials/<id>");
            if (!parsed) return parsed.error();
            container.endpoint = std::move(*parsed);
        } else if (auto full = read_variable(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
            auto parsed = url_from("AWS_CONTAINER_CREDENTIALS_FULL_URI", *full, "http://169.254.170.23/v1/credentials");
            if (!parsed) return parsed.error();
            if (!is_allowed_container_endpoint(*parsed)) {
                return config_failure("AWS_CONTAINER_CREDENTIALS_FULL_URI names host " + quoted(parsed->host) +
                                      " over http; credentials are fetched over http only from a loopback address, "
                                      "localhost, 169.254.170.2, 169.254.170.23 or fd00:ec2::23; use https for another host");
            }
            container.endpoint = std::move(*parsed);
        } else {
            why_not = "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set";
            return std::optional<container_endpoint>{};
        }
        if (auto file = read_variable(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
            container.authorization_token_file = std::move(*file);
        } else if (auto token = read_variable(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
            if (token->find_first_of("\r\n") != std::string::npos) {
                return config_failure("AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line break, which cannot go into "
                                      "an HTTP header (the value is not shown: it is a secret)");
            }
            container.authorization_token = std::move(*token);
        }
        return std::optional<container_endpoint>{std::move(container)};
    }

private:
    environment const& env_;
    shared_profiles const& profiles_;
    std::vector<std::string> visited_;
};

bool is_loopback(std::string const& host) {
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

}  // namespace

bool is_allowed_container_endpoint(url const& endpoint) {
    if (endpoint.uses_tls()) return true;
    if (is_loopback(endpoint.host)) return true;
    constexpr std::array<std::string_view, 4> allowed{"169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost"};
    return std::ranges::find(allowed, endpoint.host) != allowed.end();
}

result<std::optional<instance_metadata>> instance_metadata_settings(environment const& env) {
    if (is_true(read_variable(env, "AWS_EC2_METADATA_DISABLED"))) return std::optional<instance_metadata>{};
    instance_metadata metadata;
    metadata.v1_fallback = !is_true(read_variable(env, "AWS_EC2_METADATA_V1_DISABLED"));
    if (auto endpoint = read_variable(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
        auto parsed = url_from("AWS_EC2_METADATA_SERVICE_ENDPOINT", *endpoint, "http://169.254.169.254");
        if (!parsed) return parsed.error();
        metadata.endpoint = std::move(*parsed);
    } else {
        auto mode = lower(read_variable(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or("ipv4"));
        if (mode != "ipv4" && mode != "ipv6") {
            return config_failure("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=" + quoted(mode) +
                                  " is invalid; expected IPv4 or IPv6");
        }
        metadata.endpoint = *parse_url(mode == "ipv6" ? "http://[fd00:ec2::254]/" : "http://169.254.169.254/");
    }
    return std::optional<instance_metadata>{std::move(metadata)};
}

result<credential_plan> plan_credentials(environment const& env, shared_profiles const& profiles) {
    std::vector<std::string> passed_over;
    auto const role_arn = read_variable(env, "AWS_ROLE_ARN");
    auto const token_file = read_variable(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    auto const session_name = read_variable(env, "AWS_ROLE_SESSION_NAME").value_or("");

    // AWS_ROLE_ARN alone: the role is assumed with whatever the rest of the chain finds.
    auto finish = [&](credential_plan plan) {
        if (role_arn && !token_file) plan.roles.push_back({*role_arn, session_name, {}, "AWS_ROLE_ARN"});
        plan.passed_over = passed_over;
        return plan;
    };

    auto keys = credentials_from_environment(env);
    if (!keys) return keys.error();
    if (*keys) return finish(credential_plan{fixed_keys{std::move(**keys)}, {}, {}, false});
    passed_over.emplace_back("environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");

    if (token_file) {
        if (!role_arn) {
            return config_failure("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not; set AWS_ROLE_ARN to the "
                                  "role to assume with the web identity token, e.g. AWS_ROLE_ARN=" +
                                  std::string{example_role});
        }
        return finish(credential_plan{web_identity{*token_file, *role_arn, session_name}, {}, {}, false});
    }
    passed_over.emplace_back("web identity: AWS_WEB_IDENTITY_TOKEN_FILE is not set");

    profile_resolver resolver{env, profiles};
    std::string why_not;
    auto profile = resolver.selected(why_not);
    if (!profile) return profile.error();
    if (*profile) return finish(std::move(**profile));
    passed_over.push_back(std::move(why_not));

    auto container = profile_resolver::container_settings(env, why_not);
    if (!container) return container.error();
    if (*container) return finish(credential_plan{std::move(**container), {}, {}, false});
    passed_over.push_back(std::move(why_not));

    auto metadata = instance_metadata_settings(env);
    if (!metadata) return metadata.error();
    if (!*metadata) {
        return config_failure(no_credentials_message(passed_over, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED") +
                              ". Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure one of the others "
                              "(see the README's configuration section)");
    }
    auto plan = finish(credential_plan{std::move(**metadata), {}, {}, true});
    return plan;
}

std::string no_credentials_message(std::vector<std::string> const& passed_over, std::string_view last) {
    std::string text = "no AWS credentials found: ";
    for (auto const& why : passed_over) text += why + "; ";
    return text + std::string{last};
}

url sts_endpoint(std::string_view region, std::optional<url> const& override_endpoint) {
    if (override_endpoint) return *override_endpoint;
    auto const name = lower(region);
    url out;
    out.scheme = "https";
    out.host = "sts." + name + "." + std::string{partition_dns_suffix(name)};
    out.port = 443;
    out.target = "/";
    return out;
}

std::string describe(credential_plan const& plan) {
    std::string text = std::visit(
        [](auto const& base) -> std::string {
            using type = std::decay_t<decltype(base)>;
            if constexpr (std::is_same_v<type, fixed_keys>) {
                return base.credentials.source;
            } else if constexpr (std::is_same_v<type, web_identity>) {
                return "web identity (role " + base.role_arn + ")";
            } else if constexpr (std::is_same_v<type, container_endpoint>) {
                return "container credentials at " + base.endpoint.origin();
            } else {
                return "instance metadata at " + base.endpoint.origin();
            }
        },
        plan.base);
    for (auto const& role : plan.roles) text = "role " + role.role_arn + " (" + role.origin + ") assumed with " + text;
    return text;
}

}  // namespace rancher_ecr
