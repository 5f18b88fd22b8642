#include "rancher/rancher_api.hpp"

#include <boost/json/value.hpp>

#include "peer_text.hpp"

namespace rancher_ecr {

std::string operation_of(std::string_view method, url const& target) {
    return "Rancher " + std::string{method} + " " + target.target;
}

http_request rancher_request(std::string method, url const& target, std::string authorization, std::string body) {
    http_request request;
    request.method = std::move(method);
    request.target = target.target;
    request.headers = {
        {"Host", target.authority()},
        {"Accept", "application/json"},
        {"Authorization", std::move(authorization)},
    };
    if (!body.empty()) request.headers.push_back({"Content-Type", "application/json"});
    request.body = std::move(body);
    return request;
}

std::string bearer_authorization(std::string_view access_key, std::string_view secret_key) {
    return "Bearer " + std::string{access_key} + ":" + std::string{secret_key};
}

bool succeeded(http_response const& response) { return response.status >= 200 && response.status <= 299; }

failure in_operation(failure problem, std::string const& operation, int http_status) {
    problem.message = operation + ": " + problem.message;
    if (http_status != 0) problem.http_status = http_status;
    return problem;
}

result<std::optional<std::string>> rancher_row::optional_string(std::string_view name) const {
    auto const* value = row_.if_contains(name);
    if (value == nullptr || value->is_null()) return std::optional<std::string>{};
    if (!value->is_string()) return wrong_type(name, "a string", *value);
    return std::optional<std::string>{std::string{value->get_string()}};
}

result<std::string> rancher_row::string_or_empty(std::string_view name) const {
    auto text = optional_string(name);
    if (!text) return text.error();
    return std::move(*text).value_or("");
}

result<std::string> rancher_row::required_string(std::string_view name) const {
    auto text = string_or_empty(name);
    if (text && text->empty()) return missing(name);
    return text;
}

result<std::string> rancher_row::link(std::string_view name) const {
    auto const* links = row_.if_contains("links");
    if (links == nullptr || links->is_null()) return std::string{};
    if (!links->is_object()) return wrong_type("links", "an object", *links);
    auto const* link = links->get_object().if_contains(name);
    if (link == nullptr || link->is_null()) return std::string{};
    if (!link->is_string()) return wrong_type("links." + std::string{name}, "a string", *link);
    return std::string{link->get_string()};
}

result<std::vector<std::string>> rancher_row::object_keys(std::string_view name) const {
    std::vector<std::string> keys;
    auto const* value = row_.if_contains(name);
    if (value == nullptr || value->is_null()) return keys;
    if (!value->is_object()) return wrong_type(name, "an object", *value);
    for (auto const& entry : value->get_object()) keys.emplace_back(entry.key());
    return keys;
}

bool rancher_row::is_set(std::string_view name) const {
    auto const* value = row_.if_contains(name);
    return value != nullptr && !value->is_null();
}

failure rancher_row::missing(std::string_view name) const {
    return make_failure(failure_kind::bad_response, "malformed Rancher answer: " + where_ + "." + std::string{name} +
                                                        " is missing");
}

failure rancher_row::wrong_type(std::string_view name, std::string_view expected, boost::json::value const& got) const {
    return make_failure(failure_kind::bad_response, "malformed Rancher answer: " + where_ + "." + std::string{name} +
                                                        ": expected " + std::string{expected} + ", got " +
                                                        std::string{json_kind_name(got.kind())});
}

result<std::optional<std::string>> read_next_page_link(boost::json::object const& collection) {
    auto malformed = [](std::string const& detail) {
        return make_failure(failure_kind::bad_response, "malformed Rancher collection: " + detail);
    };
    auto const* pagination = collection.if_contains("pagination");
    if (pagination == nullptr || pagination->is_null()) return std::optional<std::string>{};
    if (!pagination->is_object())
        return malformed("pagination: expected an object, got " + std::string{json_kind_name(pagination->kind())});
    auto const* next = pagination->get_object().if_contains("next");
    if (next == nullptr || next->is_null()) return std::optional<std::string>{};
    if (!next->is_string())
        return malformed("pagination.next: expected a string, got " + std::string{json_kind_name(next->kind())});
    if (next->get_string().empty()) return std::optional<std::string>{};
    return std::optional<std::string>{std::string{next->get_string()}};
}

}  // namespace rancher_ecr
