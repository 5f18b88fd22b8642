#include "support/rancher2_stand_in.hpp"

#include <boost/json.hpp>

namespace rancher_ecr::testing {

namespace json = boost::json;

rancher2_stand_in::rancher2_stand_in(std::vector<std::string> const& arguments)
    : stand_in_process{"Rancher 2 stand-in", "rancher2_stand_in.py", arguments} {}

std::string rancher2_stand_in::add_credential(std::string const& project, std::optional<std::string> const& namespace_name,
                                              std::string const& name, json::object registries) {
    json::object body{{"project", project}, {"name", name}, {"registries", std::move(registries)}};
    if (namespace_name)
        body["namespace"] = *namespace_name;
    else
        body["namespace"] = nullptr;
    return text_of(control("POST", "/_control/credentials", json::serialize(body)).as_object(), "id");
}

std::vector<json::object> rancher2_stand_in::credentials() { return objects_in(state(), "credentials"); }

json::object rancher2_stand_in::credential(std::string const& id) { return with_id(credentials(), id, "credential"); }

std::vector<json::object> rancher2_stand_in::requests() { return objects_in(state(), "requests"); }

}  // namespace rancher_ecr::testing
