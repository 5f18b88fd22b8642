#pragma once

// The probe server's request parser, in a header of its own so that its fuzz target
// (tests/fuzz/probe_request_fuzz.cpp) reads requests exactly as the server does. Beast: include
// it only where requests are parsed.

#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>

#include "net/accept_encoding.hpp"

namespace rancher_ecr {

// Keeps of a request what the probes need: method, target, version, whether Accept-Encoding
// admits gzip and (through basic_parser) keep-alive. Other fields are checked by basic_parser and
// then dropped; a body is read and dropped.
// The method and target land in the connection's strings, so that no request allocates.
class request_line_parser final : public boost::beast::http::basic_parser<true> {
    using string_view = boost::beast::string_view;
    using error_code = boost::system::error_code;

public:
    request_line_parser(std::string& method, std::string& target) : method_{method}, target_{target} {}
    int version() const { return version_; }
    bool accepts_gzip() const { return accepts_gzip_; }

private:
    void on_request_impl(boost::beast::http::verb, string_view method, string_view target, int version,
                         error_code&) override {
        method_.assign(method.data(), method.size());
        target_.assign(target.data(), target.size());
        version_ = version;
    }
    void on_response_impl(int, string_view, int, error_code&) override {}
    void on_field_impl(boost::beast::http::field field, string_view, string_view value, error_code&) override {
        // Several Accept-Encoding fields make one list (RFC 9110, 5.3): any that admits gzip will do.
        if (field == boost::beast::http::field::accept_encoding)
            accepts_gzip_ = accepts_gzip_ || rancher_ecr::accepts_gzip({value.data(), value.size()});
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(boost::optional<std::uint64_t> const&, error_code&) override {}
    std::size_t on_body_impl(string_view body, error_code&) override { return body.size(); }
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override { return body.size(); }
    void on_finish_impl(error_code&) override {}

    std::string& method_;
    std::string& target_;
    int version_ = 11;
    bool accepts_gzip_ = false;
};

}  // namespace rancher_ecr
