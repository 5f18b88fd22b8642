#include "support/rancher2_stand_in.hpp"

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
        throw std::runtime_error("the Rancher 2 stand-in's answer lacks '" + std::string{name} +
                                 "': " + json::serialize(object));
    return std::string{value->get_string()};
}

std::vector<json::object> objects_in(json::object const& state, std::string_view name) {
    std::vector<json::object> out;
    auto const* list = state.if_contains(name);
    if (list == nullptr || !list->is_array())
        throw std::runtime_error("the Rancher 2 stand-in's state lacks '" + std::string{name} + "'");
    for (auto const& item : list->get_array()) out.push_back(item.as_object());
    return out;
}

}  // namespace

rancher2_stand_in::rancher2_stand_in(std::vector<std::string> const& arguments) {
    std::vector<std::string> argv{"python3", TESTS_SOURCE_DIR "/support/rancher2_stand_in.py"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    process_ = std::make_unique<child_process>(argv);
    auto line = process_->read_line(std::chrono::seconds{30});
    if (!line || line->empty() || line->front() != '{')
        throw std::runtime_error("the Rancher 2 stand-in did not start: " + process_->output());
    auto description = json::parse(*line).as_object();
    url_ = text_of(description, "url");
    access_key_ = text_of(description, "access_key");
    secret_key_ = text_of(description, "secret_key");
    client_ = std::make_unique<https_client>(context_.get_executor(), https_client_options{});
}

rancher2_stand_in::~rancher2_stand_in() = default;

void rancher2_stand_in::drain_output() {
    // The stand-in's log shares a pipe with its first line; keep it from filling up.
    while (process_->read_line(std::chrono::milliseconds{0})) {
    }
}

json::value rancher2_stand_in::control(std::string const& method, std::string const& path, std::string const& body) {
    drain_output();
    auto endpoint = parse_url(url_ + path);
    if (!endpoint) throw std::runtime_error(endpoint.error().message);
    http_request request;
    request.method = method;
    request.target = endpoint->target;
    if (!body.empty()) request.headers.push_back({"Content-Type", "application/json"});
    request.body = body;
    auto response = run_with_deadline(context_, client_->send(*endpoint, std::move(request)), std::chrono::seconds{10});
    if (!response)
        throw std::runtime_error("Rancher 2 stand-in " + method + " " + path + ": " + describe(response.error()));
    if (response->status < 200 || response->status > 299)
        throw std::runtime_error("Rancher 2 stand-in " + method + " " + path + " answered HTTP " +
                                 std::to_string(response->status) + ": " + response->body);
    if (response->body.empty()) return nullptr;
    return json::parse(response->body);
}

std::string rancher2_stand_in::add_credential(std::string const& project, std::optional<std::string> const& namespace_name,
                                              std::string const& name, json::object registries) {
    json::object body{{"project", project}, {"name", name}, {"registries", std::move(registries)}};
    if (namespace_name)
        body["namespace"] = *namespace_name;
    else
        body["namespace"] = nullptr;
    return text_of(control("POST", "/_control/credentials", json::serialize(body)).as_object(), "id");
}

json::object rancher2_stand_in::state() { return control("GET", "/_control/state").as_object(); }

std::vector<json::object> rancher2_stand_in::credentials() { return objects_in(state(), "credentials"); }

json::object rancher2_stand_in::credential(std::string const& id) {
    for (auto& c : credentials())
        if (text_of(c, "id") == id) return c;
    throw std::runtime_error("the Rancher 2 stand-in has no credential " + id);
}

std::vector<json::object> rancher2_stand_in::requests() { return objects_in(state(), "requests"); }

void rancher2_stand_in::add_fault(json::object fault) { control("POST", "/_control/faults", json::serialize(fault)); }

void rancher2_stand_in::clear_faults() { control("DELETE", "/_control/faults"); }

void rancher2_stand_in::reset() { control("POST", "/_control/reset"); }

int rancher2_stand_in::held() { return static_cast<int>(state().at("held").to_number<std::int64_t>()); }

int rancher2_stand_in::release() {
    return static_cast<int>(control("POST", "/_control/release").as_object().at("released").to_number<std::int64_t>());
}

}  // namespace rancher_ecr::testing
