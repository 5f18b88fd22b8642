#include "error.hpp"

#include <stdexcept>

namespace rancher_ecr {

failure make_failure(failure_kind kind, std::string message) {
    return failure{kind, std::move(message), {}, 0, is_retryable(kind, 0)};
}

bool is_retryable(failure_kind kind, int http_status) {
    switch (kind) {
        case failure_kind::resolve:
        case failure_kind::connect:
        case failure_kind::timeout:
        case failure_kind::transport:
        case failure_kind::proxy:  // a proxy down or misconfigured for a while: its operator can mend it
            return true;
        case failure_kind::bad_response:
        case failure_kind::service:
            return http_status == 429 || http_status >= 500;
        case failure_kind::config:
        case failure_kind::tls:
            return false;
    }
    return false;
}

std::string describe(failure const& f) {
    std::string text = f.message;
    std::string detail;
    if (f.http_status != 0) detail = "HTTP " + std::to_string(f.http_status);
    if (!f.code.empty()) detail += (detail.empty() ? "" : ", ") + f.code;
    detail += (detail.empty() ? "" : "; ");
    detail += f.retryable ? "will retry" : "the operator must act";
    return text + " (" + detail + ")";
}

void throw_exception_from_error(failure const& f, boost::source_location const&) {
    throw std::runtime_error(describe(f));
}

std::string exception_text(std::exception_ptr const& error) {
    try {
        std::rethrow_exception(error);
    } catch (std::exception const& e) {
        return e.what();
    } catch (...) {
        return "an unknown exception";
    }
}

}  // namespace rancher_ecr
