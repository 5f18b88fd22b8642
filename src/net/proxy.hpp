#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "net/url.hpp"

namespace rancher_ecr {

// An HTTP proxy that outbound requests go through: https:// targets by a CONNECT tunnel (TLS stays
// end to end with the target), http:// targets in absolute form.
struct proxy_server {
    std::string host;  // lower case; an IPv6 literal without brackets
    std::uint16_t port = 80;
    // "Basic base64(user:password)" for Proxy-Authorization; empty when the URL has no credentials.
    // A secret: never log or format it.
    std::string authorization;

    // host:port ([v6]:port) for messages and logs; never the credentials.
    std::string where() const;
};

// Parses a proxy URL: http://[user[:password]@]host[:port][/path], the port 80 by default, user and
// password percent-decoded; a bare host[:port] is taken as http://. Everything up to the last '@' is
// user info, so that an unencoded '/' or '@' in a password is still taken for part of it; the path
// after the host is ignored, as Go and curl do. https:// and other schemes are refused. Failure kind
// config; the message quotes the value with its user info masked, control characters dropped.
result<proxy_server> parse_proxy_url(std::string_view text);

// NO_PROXY's list: which targets go direct although a proxy is set. Entries, comma-separated, spaces
// ignored, case-insensitive: `*` (every target), a host name that matches itself and its subdomains
// (`example.com`, `.example.com` and `*.example.com` alike), an IP address, a CIDR range
// (`10.0.0.0/8`, `fd00::/8`), each optionally with `:port` (`[v6]:port` for IPv6), which then
// matches that port only. Addresses match targets given as addresses; no name is resolved.
class no_proxy_rules {
public:
    bool matches(std::string_view host, std::uint16_t port) const;
    bool empty() const { return !all_ && entries_.empty(); }

private:
    friend result<no_proxy_rules> parse_no_proxy(std::string_view text);

    struct entry {
        std::string domain;                 // a host name without leading or trailing dot; empty for a range
        std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 bytes
        bool ipv6 = false;
        unsigned prefix_bits = 0;           // of `address`, for a range or an address (32 or 128)
        std::uint16_t port = 0;             // 0: any port
    };
    bool all_ = false;
    std::vector<entry> entries_;
};

// Parses NO_PROXY's value (see no_proxy_rules); empty entries are skipped. A config failure names the
// entry that is neither a host name, an address nor a range, or has a bad prefix or port.
result<no_proxy_rules> parse_no_proxy(std::string_view text);

// The outbound proxies of the process: HTTPS_PROXY for https:// targets, HTTP_PROXY for http://,
// and NO_PROXY's exceptions (read by app/config).
struct proxy_settings {
    std::optional<proxy_server> https;
    std::optional<proxy_server> http;
    no_proxy_rules no_proxy;

    // The proxy a request to `target` goes through, or nullptr for a direct connection: none set for
    // its scheme, NO_PROXY matches it, or it is on the host's own link (IPv4 169.254.0.0/16, IPv6
    // fe80::/10, and the EC2 addresses fd00:ec2::254 and fd00:ec2::23: the instance metadata service
    // and the container credential endpoints, which no proxy can reach; IPv4-mapped forms alike).
    proxy_server const* proxy_for(url const& target) const;
    bool any() const { return https || http; }
};

// "through the proxy host:port" or "direct", for the start-up log.
std::string describe_route(proxy_settings const& proxies, url const& target);

}  // namespace rancher_ecr
