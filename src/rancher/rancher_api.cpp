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
