#include "support/test_pki.hpp"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace rancher_ecr::testing {

namespace {

struct key_deleter {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct cert_deleter {
    void operator()(X509* cert) const { X509_free(cert); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, key_deleter>;
using cert_ptr = std::unique_ptr<X509, cert_deleter>;

void check(bool ok, char const* step) {
    if (!ok) throw std::runtime_error(std::string{"test PKI: "} + step + " failed");
}

key_ptr make_key() {
    key_ptr key{EVP_EC_gen("P-256")};
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

void add_extension(X509* cert, X509* issuer, int nid, std::string const& value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    check(extension != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
}

cert_ptr make_certificate(EVP_PKEY* key, std::string const& common_name, X509* issuer, long serial) {
    cert_ptr cert{X509_new()};
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<unsigned char const*>(common_name.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    return cert;
}

void write_file(std::string const& path, std::string const& text) {
    std::ofstream out{path, std::ios::binary};
    out << text;
    check(static_cast<bool>(out), "writing a PEM file");
}

template <class Writer>
std::string pem(Writer write) {
    BIO* bio = BIO_new(BIO_s_mem());
    check(write(bio) == 1, "PEM_write");
    char* bytes = nullptr;
    long size = BIO_get_mem_data(bio, &bytes);
    std::string text{bytes, static_cast<std::size_t>(size)};
    BIO_free(bio);
    return text;
}

}  // namespace

test_pki make_test_pki(std::vector<std::string> const& dns_names, std::vector<std::string> const& ip_addresses) {
    auto ca_key = make_key();
    auto ca = make_certificate(ca_key.get(), "rancher-ecr-credentials test CA", nullptr, 1);
    add_extension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
    check(X509_sign(ca.get(), ca_key.get(), EVP_sha256()) > 0, "signing the CA");

    auto server_key = make_key();
    auto server =
        make_certificate(server_key.get(), dns_names.empty() ? "server" : dns_names.front(), ca.get(), 2);
    std::string names;
    for (auto const& dns : dns_names) names += (names.empty() ? "" : ",") + std::string{"DNS:"} + dns;
    for (auto const& ip : ip_addresses) names += (names.empty() ? "" : ",") + std::string{"IP:"} + ip;
    add_extension(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
    if (!names.empty()) add_extension(server.get(), ca.get(), NID_subject_alt_name, names);
    check(X509_sign(server.get(), ca_key.get(), EVP_sha256()) > 0, "signing the server certificate");

    char directory_template[] = "/tmp/rec-pki-XXXXXX";
    check(mkdtemp(directory_template) != nullptr, "mkdtemp");
    test_pki pki;
    pki.directory = directory_template;
    pki.ca_file = pki.directory + "/ca.pem";
    pki.server_cert_file = pki.directory + "/server.pem";
    pki.server_key_file = pki.directory + "/server-key.pem";
    write_file(pki.ca_file, pem([&](BIO* bio) { return PEM_write_bio_X509(bio, ca.get()); }));
    write_file(pki.server_cert_file, pem([&](BIO* bio) { return PEM_write_bio_X509(bio, server.get()); }));
    write_file(pki.server_key_file, pem([&](BIO* bio) {
                   return PEM_write_bio_PrivateKey(bio, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
               }));
    return pki;
}

}  // namespace rancher_ecr::testing
