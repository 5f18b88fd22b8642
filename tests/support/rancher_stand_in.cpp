#include "support/rancher_stand_in.hpp"

#include <cstdint>
#include <stdexcept>

#include <boost/json.hpp>

#include "error.hpp"
#include "net/url.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr::testing {

namespace json = boost::json;

namespace {

std::string text_of(json::object const& object, std::string_view name) {
    auto const* value = object.if_contains(name);
    if (value == nullptr || !value->is_string())
        throw std::runtime_error("the Rancher stand-in's answer lacks '" + std::string{name} + "': " + json::serialize(object));
    return std::string{value->get_string()};
}

std::vector<json::object> objects_in(json::object const& state, std::string_view name) {
    std::vector<json::object> out;
    auto const* list = state.if_contains(name);
    if (list == nullptr || !list->is_array())
        throw std::runtime_error("the Rancher stand-in's state lacks '" + std::string{name} + "'");
    for (auto const& item : list->get_array()) out.push_back(item.as_object());
    return out;
}

}  // namespace

rancher_stand_in::rancher_stand_in(std::vector<std::string> const& arguments) {
    std::vector<std::string> argv{"python3", TESTS_SOURCE_DIR "/support/rancher_stand_in.py"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    process_ = std::make_unique<child_process>(argv);
    auto line = process_->read_line(std::chrono::seconds{30});
    if (!line || line->empty() || line->front() != '{')
        throw std::runtime_error("the Rancher stand-in did not start: " + process_->output());
    auto description = json::parse(*line).as_object();
    url_ = text_of(description, "url");
    access_key_ = text_of(description, "access_key");
    secret_key_ = text_of(description, "secret_key");
    project_ = text_of(description, "project");
    client_ = std::make_unique<https_client>(context_.get_executor(), https_client_options{});
}

rancher_stand_in::~rancher_stand_in() = default;

void rancher_stand_in::drain_output() {
    // The stand-in's log shares a pipe with its first line; keep it from filling up.
    while (process_->read_line(std::chrono::milliseconds{0})) {
    }
}

json::value rancher_stand_in::control(std::string const& method, std::string const& path, std::string const& body) {
    drain_output();
    auto endpoint = parse_url(url_ + path);
    if (!endpoint) throw std::runtime_error(endpoint.error().message);
    http_request request;
    request.method = method;
    request.target = endpoint->target;
    if (!body.empty()) request.headers.push_back({"Content-Type", "application/json"});
    request.body = body;
    auto response = run_with_deadline(context_, client_->send(*endpoint, std::move(request)), std::chrono::seconds{10});
    if (!response) throw std::runtime_error("Rancher stand-in " + method + " " + path + ": " + describe(response.error()));
    if (response->status < 200 || response->status > 299)
        throw std::runtime_error("Rancher stand-in " + method + " " + path + " answered HTTP " +
                                 std::to_string(response->status) + ": " + response->body);
    if (response->body.empty()) return nullptr;
    return json::parse(response->body);
}

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

json::object rancher_stand_in::state() { return control("GET", "/_control/state").as_object(); }

std::vector<json::object> rancher_stand_in::registries() { return objects_in(state(), "registries"); }

json::object rancher_stand_in::registry(std::string const& id) {
    for (auto& r : registries())
        if (text_of(r, "id") == id) return r;
    throw std::runtime_error("the Rancher stand-in has no registry " + id);
}

json::object rancher_stand_in::credential(std::string const& id) {
    for (auto& c : objects_in(state(), "credentials"))
        if (text_of(c, "id") == id) return c;
    throw std::runtime_error("the Rancher stand-in has no credential " + id);
}

std::vector<json::object> rancher_stand_in::credentials_of(std::string const& registry_id) {
    std::vector<json::object> out;
    for (auto& c : objects_in(state(), "credentials"))
        if (text_of(c, "registryId") == registry_id) out.push_back(std::move(c));
    return out;
}

void rancher_stand_in::add_fault(json::object fault) { control("POST", "/_control/faults", json::serialize(fault)); }

void rancher_stand_in::clear_faults() { control("DELETE", "/_control/faults"); }

void rancher_stand_in::reset() { control("POST", "/_control/reset"); }

int rancher_stand_in::held() { return static_cast<int>(state().at("held").to_number<std::int64_t>()); }

int rancher_stand_in::release() {
    return static_cast<int>(control("POST", "/_control/release").as_object().at("released").to_number<std::int64_t>());
}

}  // namespace rancher_ecr::testing
