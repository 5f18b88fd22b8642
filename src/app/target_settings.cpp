#include "app/target_settings.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace rancher_ecr {

result<std::string> read_secret_key(secret_key_source const& source, environment const& env) {
    if (!source.variable.empty()) {
        auto value = env(source.variable);
        if (!value || value->empty())
            return make_failure(failure_kind::config, "secret_key_env names " + source.variable +
                                                          ", which is not set; set it to the Rancher secret key");
        return std::move(*value);
    }
    if (!source.file.empty()) {
        std::ifstream in{source.file, std::ios::binary};
        if (!in)
            return make_failure(failure_kind::config, "secret_key_file " + source.file +
                                                          " cannot be read; mount the Rancher secret key there");
        std::string key{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
        while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
        if (key.empty())
            return make_failure(failure_kind::config,
                                "secret_key_file " + source.file + " is empty; put the Rancher secret key in it");
        if (std::ranges::any_of(key, [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
            return make_failure(failure_kind::config, "secret_key_file " + source.file +
                                                          " holds a control character or more than one line; put "
                                                          "only the Rancher secret key in it");
        return key;
    }
    return source.value;
}

std::vector<target_settings> targets_from_environment(service_config const& config) {
    target_settings base;
    base.name = "default";
    base.rancher_url = *config.rancher_url;
    base.rancher_api = config.rancher_api;
    base.access_key = config.rancher_access_key;
    base.secret_key.value = config.rancher_secret_key;
    base.project = config.rancher_project;
    base.namespaces = config.rancher_namespaces;
    base.credential_name = config.rancher_credential_name;
    base.rancher_ca_bundle = config.rancher_ca_bundle;
    base.auto_create = config.auto_create;
    base.region = config.region;
    base.registry_ids = config.registry_ids;
    base.ecr_endpoint = config.ecr_endpoint;
    if (config.rancher_api != rancher_generation::cattle || config.registry_ids.empty()) return {base};
    std::vector<target_settings> targets;
    for (auto const& id : config.registry_ids) {
        auto& target = targets.emplace_back(base);
        target.name = id;
        target.registry_ids = {id};
    }
    return targets;
}

bool is_target_name(std::string_view name) {
    return !name.empty() && name.size() <= 63 && std::ranges::all_of(name, [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

}  // namespace rancher_ecr
