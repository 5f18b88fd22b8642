#include "support/tls_front.hpp"

#include <cctype>
#include <chrono>
#include <stdexcept>

#include "net/url.hpp"

namespace rancher_ecr::testing {

tls_front::tls_front(std::string const& upstream_url, test_pki const& pki)
    : process_{{"python3", TESTS_SOURCE_DIR "/support/tls_proxy.py", pki.server_cert_file, pki.server_key_file,
                parse_url(upstream_url)->authority()}} {
    auto line = process_.read_line(std::chrono::seconds{30});
    if (!line || line->empty() || !std::isdigit(static_cast<unsigned char>(line->front())))
        throw std::runtime_error("the TLS front did not start: " + process_.output());
    port_ = std::stoi(*line);
}

}  // namespace rancher_ecr::testing
