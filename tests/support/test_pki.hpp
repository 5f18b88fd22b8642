#pragma once

#include <string>
#include <vector>

namespace rancher_ecr::testing {

// A certificate authority and a server certificate made at test time (EC P-256, valid
// for a day), written as PEM files into a fresh temporary directory.
struct test_pki {
    std::string directory;
    std::string ca_file;           // the CA certificate, to trust
    std::string server_cert_file;  // signed by the CA, with the given subject alternative names
    std::string server_key_file;
};

// `dns_names` and `ip_addresses` become the server certificate's subjectAltName.
test_pki make_test_pki(std::vector<std::string> const& dns_names, std::vector<std::string> const& ip_addresses);

}  // namespace rancher_ecr::testing
