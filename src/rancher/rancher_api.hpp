#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "error.hpp"
#include "net/http_message.hpp"
#include "net/url.hpp"

// What the Rancher 1.x client and the 2.x writer share: how a request is named in messages, what
// counts as success, and where the next page is (both APIs page alike; the walk over the pages is
// in rancher_paging.hpp).
namespace rancher_ecr {

// "Rancher GET /v2-beta/registries", the start of every message about that request.
std::string operation_of(std::string_view method, url const& target);

// A request to the Rancher API: Host, Accept JSON, `authorization` (Basic for 1.x, Bearer for 2.x:
// a secret), and a JSON `body` when not empty.
http_request rancher_request(std::string method, url const& target, std::string authorization, std::string body = {});

// "Bearer <access key>:<secret key>", how Rancher 2 takes an API key (a secret).
std::string bearer_authorization(std::string_view access_key, std::string_view secret_key);

// A 2xx answer.
bool succeeded(http_response const& response);

// Puts the operation in front of a transport or parse failure ("Rancher GET /v2-beta: ...").
failure in_operation(failure problem, std::string const& operation, int http_status = 0);

// pagination.next of a collection answer: nullopt when absent, null or empty; a bad_response
// failure when `pagination` or `next` has the wrong type.
result<std::optional<std::string>> read_next_page_link(boost::json::object const& collection);

}  // namespace rancher_ecr
