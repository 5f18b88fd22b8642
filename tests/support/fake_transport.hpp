#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "net/http_transport.hpp"

namespace rancher_ecr::testing {

// An http_transport that answers from a script, without sockets or threads, and records every
// request: for the request sequences of the clients and writers. A route answers the requests
// whose method matches and whose target starts with `target_prefix`; the last route added that
// matches wins, so a test can override an answer. An unrouted request gets a 599 and is recorded.
class fake_transport final : public http_transport {
public:
    using answer = std::function<result<http_response>(http_request const&)>;

    struct sent {
        url endpoint;
        http_request request;
    };

    void route(std::string method, std::string target_prefix, answer respond) {
        routes_.push_back({std::move(method), std::move(target_prefix), std::move(respond)});
    }
    void route(std::string method, std::string target_prefix, int status, std::string body) {
        route(std::move(method), std::move(target_prefix),
              [status, body = std::move(body)](http_request const&) -> result<http_response> {
                  return http_response{status, {{"Content-Type", "application/json"}}, body};
              });
    }

    boost::asio::awaitable<result<http_response>> send(url const& endpoint, http_request request) override {
        requests_.push_back({endpoint, request});
        for (auto it = routes_.rbegin(); it != routes_.rend(); ++it) {
            if (it->method == request.method && request.target.starts_with(it->target_prefix))
                co_return it->respond(request);
        }
        co_return http_response{599, {}, R"({"type":"error","status":599,"message":"no route in the test"})"};
    }

    std::vector<sent> const& requests() const { return requests_; }
    // "PUT /v3/project/..." for each request, in order.
    std::vector<std::string> request_lines() const {
        std::vector<std::string> lines;
        for (auto const& r : requests_) lines.push_back(r.request.method + " " + r.request.target);
        return lines;
    }

private:
    struct route_entry {
        std::string method;
        std::string target_prefix;
        answer respond;
    };
    std::vector<route_entry> routes_;
    std::vector<sent> requests_;
};

}  // namespace rancher_ecr::testing
