#include "support/rancher_stand_in.hpp"

#include <boost/json.hpp>

namespace rancher_ecr::testing {

namespace json = boost::json;

rancher_stand_in::rancher_stand_in(std::vector<std::string> const& arguments)
    : stand_in_process{"Rancher stand-in", "rancher_stand_in.py", arguments},
      project_{text_of(description(), "project")} {}

std::string rancher_stand_in::add_registry(std::string const& server_address, std::string const& state, bool removed) {
    json::object body{{"serverAddress", server_address}, {"state", state}};
    if (removed) body["removed"] = true;
    return text_of(control("POST", "/_control/registries", json::serialize(body)).as_object(), "id");
}

std::string rancher_stand_in::add_credential(std::string const& registry_id, std::string const& public_value,
                                             std::string const& secret_value, std::string const& state, bool removed) {
    json::object body{{"registryId", registry_id}, {"publicValue", public_value}, {"secretValue", secret_value},
                      {"state", state}};
    if (removed) body["removed"] = true;
    return text_of(control("POST", "/_control/credentials", json::serialize(body)).as_object(), "id");
}

std::vector<json::object> rancher_stand_in::registries() { return objects_in(state(), "registries"); }

json::object rancher_stand_in::registry(std::string const& id) { return with_id(registries(), id, "registry"); }

json::object rancher_stand_in::credential(std::string const& id) {
    return with_id(objects_in(state(), "credentials"), id, "credential");
}

std::vector<json::object> rancher_stand_in::credentials_of(std::string const& registry_id) {
    std::vector<json::object> out;
    for (auto& c : objects_in(state(), "credentials"))
        if (text_of(c, "registryId") == registry_id) out.push_back(std::move(c));
    return out;
}

std::string rancher_stand_in::add_environment(std::string const& name) {
    return text_of(control("POST", "/_control/environments", json::serialize(json::object{{"name", name}})).as_object(),
                   "id");
}

void rancher_stand_in::remove_environment(std::string const& id_or_name) {
    control("DELETE", "/_control/environments/" + id_or_name);
}

json::object rancher_stand_in::environment(std::string const& id_or_name) {
    return control("GET", "/_control/environments/" + id_or_name).as_object();
}

}  // namespace rancher_ecr::testing
