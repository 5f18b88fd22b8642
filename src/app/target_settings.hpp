#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.hpp"
#include "environment.hpp"
#include "error.hpp"
#include "net/url.hpp"
#include "rancher/rancher_url.hpp"

namespace rancher_ecr {

// Where a target's Rancher secret key comes from: a value (CATTLE_SECRET_KEY), a file
// (secret_key_file, its trailing newline trimmed) or a variable (secret_key_env). A file or a
// variable is read again at every refresh, so that a rotated key is taken up without a restart.
struct secret_key_source {
    std::string value;     // CATTLE_SECRET_KEY: a secret, never logged
    std::string file;      // secret_key_file
    std::string variable;  // secret_key_env
    bool operator==(secret_key_source const&) const = default;
};

// The key, or a config failure naming the file or variable (never the key) and what to do.
result<std::string> read_secret_key(secret_key_source const& source, environment const& env);

// `environments: all` (1.x) or `projects: all` (2.x): the target writes to every environment or
// project its key sees, or to those listed by name or id; each is a target of its own, named
// <target>/<environment> or <target>/<cluster>/<project>, and the list is read again at each
// refresh.
struct target_expansion {
    bool all = false;
    std::vector<std::string> names;  // names or ids, when not all
    bool any() const { return all || !names.empty(); }
    bool operator==(target_expansion const&) const = default;
};

// One target: a Rancher place (a 1.x environment, a 2.x project or its namespaces) and the ECR
// registries whose tokens it holds. The environment variables make one (targets_from_environment),
// a targets file makes many (read_targets_file).
struct target_settings {
    std::string name;  // unique; in logs, /healthz and the metrics' `target` label
    // Rancher
    url rancher_url;
    std::optional<rancher_generation> rancher_api;  // nullopt: a bare origin, asked with GET /v3
    std::string access_key;
    secret_key_source secret_key;
    std::string project;  // 2.x: an id, a name or cluster/project
    std::vector<std::string> namespaces;
    std::optional<std::string> credential_name;
    std::optional<std::string> rancher_ca_bundle;
    bool auto_create = false;
    target_expansion expansion;  // 1.x environments, 2.x projects
    // ECR
    std::string region;                     // empty: the process's region
    std::vector<std::string> registry_ids;  // none: the caller's own registry
    std::optional<url> ecr_endpoint;
    std::string profile;   // AWS credentials from this profile of the shared files instead
    std::string role_arn;  // a role assumed with the process's credentials
    bool operator==(target_settings const&) const = default;
};

// The one target the environment variables describe (CATTLE_URL must be set): on Rancher 1.x one
// per AWS_ECR_REGISTRY_IDS entry, named by the account id, each on its own schedule; on 2.x (or a
// bare origin) one named "default" holding every account, since a 2.x credential may hold the hosts
// of several accounts, which are written together.
std::vector<target_settings> targets_from_environment(service_config const& config);

// Whether `name` may name a target: 1 to 63 letters, digits, '.', '_' and '-'.
bool is_target_name(std::string_view name);

}  // namespace rancher_ecr
