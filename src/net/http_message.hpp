#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rancher_ecr {

struct http_header {
    std::string name;
    std::string value;
};

// A request as the clients build it, free of Beast types so that pure code
// (SigV4, the ECR and Rancher payloads) and the tests need no Asio.
struct http_request {
    std::string method = "GET";
    std::string target = "/";          // path and query, as sent on the request line
    std::vector<http_header> headers;  // in sending order; Host is set by the transport if absent
    std::string body;

    // The value of the first header named `name` (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const;
    // Replaces every header named `name` (case-insensitive) by one with `value`.
    void set_header(std::string_view name, std::string value);
};

struct http_response {
    int status = 0;
    std::vector<http_header> headers;
    std::string body;

    std::optional<std::string_view> header(std::string_view name) const;
};

bool iequals(std::string_view a, std::string_view b);

// "Basic base64(user:password)" for an Authorization or Proxy-Authorization header (RFC 7617).
// A secret: never log it.
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace rancher_ecr
