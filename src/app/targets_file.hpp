#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "app/config.hpp"
#include "app/target_settings.hpp"
#include "environment.hpp"
#include "error.hpp"

namespace rancher_ecr {

// Reads a targets file (TARGETS_FILE, --targets), YAML:
//
//   defaults:                       # optional: the keys of `rancher` and `ecr` for every target
//     rancher: {auto_create: true}
//     ecr: {region: eu-west-1}
//   targets:
//     - name: prod                  # unique: [A-Za-z0-9._-], at most 63
//       rancher: {url: ..., access_key: ..., secret_key_file: /run/secrets/prod, environments: all}
//       ecr: {registry_ids: ["123456789012"]}
//
// rancher: url, access_key, secret_key_file | secret_key_env, project, namespaces, environments
// (1.x), projects (2.x), credential_name, ca_bundle, auto_create; ecr: region, registry_ids,
// profile, role_arn, endpoint_url. A target's value wins over `defaults`, which wins over the
// process's (AWS_REGION, AWS_ENDPOINT_URL_ECR, AUTO_CREATE, CATTLE_CA_BUNDLE). Each target's secret
// key is read once here, so that one missing stops the start. Any problem is a config failure
// "<file>:<line>:<column>: <key>: <what is wrong>; <what is accepted>" (1-based; a duplicate name
// points at its second occurrence); an unknown key is one, never ignored. Never throws.
result<std::vector<target_settings>> parse_targets(std::string_view text, std::string_view file_name,
                                                   service_config const& process, environment const& env);

// The same for the file at `path`; a failure when it cannot be read.
result<std::vector<target_settings>> read_targets_file(std::string const& path, service_config const& process,
                                                       environment const& env);

}  // namespace rancher_ecr
