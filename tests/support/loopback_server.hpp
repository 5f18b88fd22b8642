#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/http_message.hpp"
#include "support/test_pki.hpp"

namespace rancher_ecr::testing {

// What the server does with one request.
struct scripted_answer {
    enum class action {
        respond,             // send `response`, keep the connection if the client asked to
        respond_then_close,  // send `response` announcing keep-alive, then close the connection anyway
        close,               // close the connection without answering
        stay_silent,         // answer nothing and keep the connection open
        send_raw,            // write `raw` as it is, then close
    };
    action what = action::respond;
    http_response response{200, {}, {}};
    std::string raw;
};

using request_handler = std::function<scripted_answer(http_request const&)>;

// An HTTP/1.1 server on 127.0.0.1 (an ephemeral port), over TLS when given a PKI, running
// on its own thread and io_context so that the code under test runs undisturbed.
class loopback_server {
public:
    explicit loopback_server(request_handler handler, std::optional<test_pki> tls = std::nullopt);
    ~loopback_server();
    loopback_server(loopback_server const&) = delete;
    loopback_server& operator=(loopback_server const&) = delete;

    std::uint16_t port() const;
    std::size_t connections_accepted() const;
    std::vector<http_request> requests() const;

private:
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace rancher_ecr::testing
