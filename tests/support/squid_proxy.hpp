#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/temporary_directory.hpp"

namespace rancher_ecr::testing {

// A real HTTP proxy for the tests: Debian's squid, in the foreground on 127.0.0.1 with a configuration
// of its own (nothing cached, only 127.0.0.1 served, CONNECT to any port) and, when `user` is not
// empty, Basic authentication (basic_ncsa_auth) that takes only `user` with `password`: 407 for
// missing or wrong credentials, as corporate proxies answer. Stops when this object goes.
class squid_proxy {
public:
    struct options {
        std::string user;
        std::string password;
        std::uint16_t port = 0;  // 0: a free one
    };

    explicit squid_proxy(options settings);
    squid_proxy() : squid_proxy(options{}) {}
    ~squid_proxy();
    squid_proxy(squid_proxy const&) = delete;
    squid_proxy& operator=(squid_proxy const&) = delete;

    std::uint16_t port() const { return port_; }
    // http://127.0.0.1:PORT, without credentials.
    std::string url() const;
    // http://USER:PASSWORD@127.0.0.1:PORT, both percent-encoded.
    std::string url_with(std::string const& user, std::string const& password) const;
    // The requests squid logged so far, as "METHOD URL STATUS": "CONNECT localhost:4430 200",
    // "GET http://127.0.0.1:8080/v2-beta 200", "CONNECT localhost:4430 407". Squid logs a request
    // when it ends: a tunnel when it is closed.
    std::vector<std::string> requests() const;
    // Its access and cache logs so far.
    std::string log() const;

private:
    temporary_directory directory_;
    std::string access_log_;
    std::string cache_log_;
    std::uint16_t port_ = 0;
    std::unique_ptr<child_process> process_;
};

}  // namespace rancher_ecr::testing
