#include "support/stand_in_process.hpp"

#include <cstdint>
#include <stdexcept>

#include <boost/json.hpp>

#include "error.hpp"
#include "net/url.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr::testing {

namespace json = boost::json;

stand_in_process::stand_in_process(std::string name, std::string const& script,
                                   std::vector<std::string> const& arguments)
    : name_{std::move(name)} {
    std::vector<std::string> argv{"python3", TESTS_SOURCE_DIR "/support/" + script};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    process_ = std::make_unique<child_process>(argv);
    auto line = process_->read_line(std::chrono::seconds{30});
    if (!line || line->empty() || line->front() != '{')
        throw std::runtime_error("the " + name_ + " did not start: " + process_->output());
    description_ = json::parse(*line).as_object();
    url_ = text_of(description_, "url");
    access_key_ = text_of(description_, "access_key");
    secret_key_ = text_of(description_, "secret_key");
    client_ = std::make_unique<https_client>(context_.get_executor(), https_client_options{});
}

stand_in_process::~stand_in_process() = default;

std::string stand_in_process::text_of(json::object const& object, std::string_view name) const {
    auto const* value = object.if_contains(name);
    if (value == nullptr || !value->is_string())
        throw std::runtime_error("the " + name_ + "'s answer lacks '" + std::string{name} +
                                 "': " + json::serialize(object));
    return std::string{value->get_string()};
}

std::vector<json::object> stand_in_process::objects_in(json::object const& state, std::string_view name) const {
    std::vector<json::object> out;
    auto const* list = state.if_contains(name);
    if (list == nullptr || !list->is_array())
        throw std::runtime_error("the " + name_ + "'s state lacks '" + std::string{name} + "'");
    for (auto const& item : list->get_array()) out.push_back(item.as_object());
    return out;
}

json::object stand_in_process::with_id(std::vector<json::object> rows, std::string const& id,
                                       std::string_view kind) const {
    for (auto& row : rows)
        if (text_of(row, "id") == id) return std::move(row);
    throw std::runtime_error("the " + name_ + " has no " + std::string{kind} + " " + id);
}

void stand_in_process::drain_output() {
    // The stand-in's log shares a pipe with its first line; keep it from filling up.
    while (process_->read_line(std::chrono::milliseconds{0})) {
    }
}

json::value stand_in_process::control(std::string const& method, std::string const& path, std::string const& body) {
    drain_output();
    auto endpoint = parse_url(url_ + path);
    if (!endpoint) throw std::runtime_error(endpoint.error().message);
    http_request request;
    request.method = method;
    request.target = endpoint->target;
    if (!body.empty()) request.headers.push_back({"Content-Type", "application/json"});
    request.body = body;
    auto response = run_with_deadline(context_, client_->send(*endpoint, std::move(request)), std::chrono::seconds{10});
    if (!response) throw std::runtime_error(name_ + " " + method + " " + path + ": " + describe(response.error()));
    if (response->status < 200 || response->status > 299)
        throw std::runtime_error(name_ + " " + method + " " + path + " answered HTTP " +
                                 std::to_string(response->status) + ": " + response->body);
    if (response->body.empty()) return nullptr;
    return json::parse(response->body);
}

json::object stand_in_process::state() { return control("GET", "/_control/state").as_object(); }

void stand_in_process::add_fault(json::object fault) { control("POST", "/_control/faults", json::serialize(fault)); }

void stand_in_process::clear_faults() { control("DELETE", "/_control/faults"); }

void stand_in_process::reset() { control("POST", "/_control/reset"); }

int stand_in_process::held() { return static_cast<int>(state().at("held").to_number<std::int64_t>()); }

int stand_in_process::release() {
    return static_cast<int>(control("POST", "/_control/release").as_object().at("released").to_number<std::int64_t>());
}

}  // namespace rancher_ecr::testing
