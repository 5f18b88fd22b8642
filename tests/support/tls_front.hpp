#pragma once

#include <string>

#include "support/child_process.hpp"
#include "support/test_pki.hpp"

namespace rancher_ecr::testing {

// TLS in front of a plain-HTTP stand-in (tests/support/tls_proxy.py): listens on 127.0.0.1 (a free
// port) with `pki`'s server certificate and passes the bytes on to `upstream_url`'s host and port.
// Stops when this object goes; throws (failing the test) when it does not come up.
class tls_front {
public:
    tls_front(std::string const& upstream_url, test_pki const& pki);

    int port() const { return port_; }

private:
    child_process process_;
    int port_ = 0;
};

}  // namespace rancher_ecr::testing
