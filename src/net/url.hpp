#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "error.hpp"

namespace rancher_ecr {

// An http:// or https:// URL split into the parts a client needs.
struct url {
    std::string scheme;  // "http" or "https", lower case
    std::string host;    // lower case; an IPv6 literal without brackets
    std::uint16_t port = 0;
    std::string target;  // path and query, never empty ("/" at least); no fragment

    bool uses_tls() const { return scheme == "https"; }
    // host[:port] as the Host header wants it: the port only when not the scheme's default.
    std::string authority() const;
    // scheme://authority, the key under which connections are reused.
    std::string origin() const;
    // scheme://authority + target.
    std::string text() const;

    bool operator==(url const&) const = default;
};

// Parses an absolute http(s) URL. User info ("user:pass@") is refused so that no
// secret rides in a URL. Failure kind: config; the message quotes the URL without its user info
// (see without_user_info), control characters escaped as \xHH, at most 200 bytes of it.
result<url> parse_url(std::string_view text);

// RFC 3986 percent-encoding: unreserved characters (letters, digits, "-._~") and, with
// `keep_slash`, '/' stay; every other byte becomes %XX in upper case (as AWS requires).
std::string percent_encode(std::string_view text, bool keep_slash = false);

// Percent-decoding; nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text);

// `text` as it may be quoted in a message: anything between "://" and the last '@' may be user
// info ("user:secret@", the secret possibly holding '/'), so it becomes "***". Without a scheme
// before "://" (a bare "user:secret@host:port"), anything before the last '@' is masked.
std::string without_user_info(std::string_view text);

}  // namespace rancher_ecr
