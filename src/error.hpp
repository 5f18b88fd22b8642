#pragma once

#include <exception>
#include <string>

#include <boost/system/result.hpp>

namespace rancher_ecr {

// What kind of step failed. The kind decides, in one place (is_retryable), whether
// trying again later can help or an operator has to act.
enum class failure_kind {
    config,        // a setting is missing or malformed
    resolve,       // DNS lookup of a host failed
    connect,       // TCP connection refused or unreachable
    tls,           // TLS handshake or certificate verification failed
    proxy,         // the outbound proxy is out of reach, refused the tunnel or asked for credentials
    timeout,       // a network operation did not finish within its deadline
    transport,     // the connection broke while sending or receiving
    bad_response,  // the peer answered with something we cannot use (malformed HTTP, JSON, token)
    service,       // the remote service answered with an error (AWS error code, Rancher error)
};

// The service's own reasons for refusing to write, as opposed to a peer's error codes: decided
// where the refusal is made (the writers) and read where it is counted (refresh, metrics).
enum class refusal {
    none,
    registry_not_found,  // no Rancher registry or credential holds the host, and AUTO_CREATE is off
    project_not_found,   // RANCHER_PROJECT matches no project
    project_ambiguous,   // RANCHER_PROJECT matches several projects
    foreign_host,        // the credential also holds a host without a fresh token: writing would erase it
};

// An expected failure, carried as a value. `message` names what failed and where
// (host, variable, status) and never contains a secret.
struct failure {
    failure_kind kind = failure_kind::transport;
    std::string message;
    std::string code;      // the service's error code ("ThrottlingException", "ServerAddressUsed"), if any
    int http_status = 0;   // the HTTP status, if the peer answered
    bool retryable = false;
    refusal refused = refusal::none;  // set when the service itself refused to write
};

// A failure of a kind that decides retryability by itself (everything but `service`).
failure make_failure(failure_kind kind, std::string message);

// Whether a failure of this kind and HTTP status can pass on a later try:
// network trouble, timeouts, throttling (429) and server errors (5xx) can; bad TLS,
// bad configuration, bad requests and refused credentials need an operator.
bool is_retryable(failure_kind kind, int http_status);

// "message (HTTP 403, SignatureDoesNotMatch; the operator must act)" for logs and errors.
std::string describe(failure const& f);

// What an exception says, for a log line: its what(), or "an unknown exception".
std::string exception_text(std::exception_ptr const& error);

template <class T>
using result = boost::system::result<T, failure>;

// Called by result<T>::value() on an error; lets such a bug surface as an exception.
[[noreturn]] void throw_exception_from_error(failure const& f, boost::source_location const& loc);

}  // namespace rancher_ecr
