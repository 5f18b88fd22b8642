#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "error.hpp"
#include "net/http_message.hpp"
#include "net/url.hpp"

// What the Rancher 1.x client and the 2.x writer share: how a request is named in messages, what
// counts as success, how the fields of a row are read, and where the next page is (both APIs page alike; the walk over the pages is
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

// Reads the fields of one row of an answer (a resource, or an entry of a collection's data);
// `where` ("data[3]", "resource") starts every complaint, a bad_response failure such as
// "malformed Rancher answer: data[3].links.self is missing".
class rancher_row {
public:
    rancher_row(boost::json::object const& row, std::string where) : row_{row}, where_{std::move(where)} {}

    // A string field; nullopt when missing or null (both APIs write unset fields as null).
    result<std::optional<std::string>> optional_string(std::string_view name) const;
    // The same, "" when missing or null.
    result<std::string> string_or_empty(std::string_view name) const;
    // A string field that must be there and not be empty.
    result<std::string> required_string(std::string_view name) const;
    // links.<name>; "" when `links` or the link is missing or null.
    result<std::string> link(std::string_view name) const;
    // The keys of an object field; none when missing or null.
    result<std::vector<std::string>> object_keys(std::string_view name) const;
    // Whether the field is there and not null.
    bool is_set(std::string_view name) const;

    failure missing(std::string_view name) const;

private:
    failure wrong_type(std::string_view name, std::string_view expected, boost::json::value const& got) const;

    boost::json::object const& row_;
    std::string where_;
};

// pagination.next of a collection answer: nullopt when absent, null or empty; a bad_response
// failure when `pagination` or `next` has the wrong type.
result<std::optional<std::string>> read_next_page_link(boost::json::object const& collection);

}  // namespace rancher_ecr
