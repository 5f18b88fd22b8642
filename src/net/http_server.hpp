#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "error.hpp"
#include "net/http_message.hpp"

namespace rancher_ecr {

struct http_server_options {
    std::string address = "0.0.0.0";
    std::uint16_t port = 8080;  // 0: any free port (tests)
    std::chrono::milliseconds read_timeout{10000};  // a connection that sends no full request in time is closed
    std::size_t max_request_bytes = 8 * 1024;      // header and body together
    std::size_t max_connections = 512;              // beyond it, the longest-open connection is closed
};

// Answers one request from its method and target (path and query). The answer is shared so that
// a handler can hand the same one to many requests; it must not change once handed out.
using http_handler =
    std::function<std::shared_ptr<http_response const>(std::string_view method, std::string_view target)>;

// A small HTTP/1.1 server for probes: one coroutine per connection on the caller's executor,
// keep-alive, bounded requests, a read deadline on every request, and a cap on open connections
// so that idle clients cannot starve the probes. Header fields are not kept (no probe needs one)
// and a request body is read and dropped, so that a request costs no allocation. A text or JSON
// answer of more than a packet goes gzip-compressed to a request whose Accept-Encoding admits it
// (Prometheus asks so), compressed once per answer however many requests it serves; such answers
// carry Vary: Accept-Encoding either way.
class http_server {
public:
    // Binds and listens at once, so that a port in use is reported at start-up (kind config).
    static result<std::unique_ptr<http_server>> listen(boost::asio::any_io_executor executor,
                                                       http_server_options options, http_handler handler);
    ~http_server();
    http_server(http_server const&) = delete;
    http_server& operator=(http_server const&) = delete;

    std::uint16_t port() const;

    // Accepts connections until stop(); completes once the acceptor is closed. A failed accept (out
    // of descriptors: EMFILE, ENFILE) is tried again after a pause, 5 ms doubling to 1 s as Go's
    // net/http does, instead of at once (the backlog keeps the socket readable: that would spin);
    // it is logged once, with the error and the RLIMIT_NOFILE soft limit, until an accept succeeds
    // again, which is logged once too. The open connections are served meanwhile. A connection
    // whose handling throws (a bug) is logged and closed; the others go on.
    boost::asio::awaitable<void> run();

    // Closes the acceptor and every open connection.
    void stop();

private:
    struct state;
    explicit http_server(std::shared_ptr<state> s);
    std::shared_ptr<state> state_;
};

}  // namespace rancher_ecr
