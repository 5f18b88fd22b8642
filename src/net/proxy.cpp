#include "net/proxy.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <arpa/inet.h>

#include "ascii_text.hpp"
#include "net/http_message.hpp"
#include "peer_text.hpp"

namespace rancher_ecr {

namespace {

// What a message quotes of a value at the most.
constexpr std::size_t max_quoted = 100;

struct ip_address {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
    bool ipv6 = false;
    unsigned bits() const { return ipv6 ? 128 : 32; }
};

std::optional<ip_address> parse_ip(std::string_view text) {
    if (text.empty() || text.size() > 45) return std::nullopt;
    std::string terminated{text};
    ip_address address;
    if (inet_pton(AF_INET, terminated.c_str(), address.bytes.data()) == 1) return address;
    address.ipv6 = true;
    if (inet_pton(AF_INET6, terminated.c_str(), address.bytes.data()) == 1) return address;
    return std::nullopt;
}

// Whether the first `bits` bits of `a` and `b` agree.
bool same_prefix(std::array<std::uint8_t, 16> const& a, std::array<std::uint8_t, 16> const& b, unsigned bits) {
    unsigned whole = bits / 8;
    if (std::memcmp(a.data(), b.data(), whole) != 0) return false;
    unsigned rest = bits % 8;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

bool in_range(ip_address const& address, std::string_view range_address, unsigned bits) {
    auto range = parse_ip(range_address);
    return range && range->ipv6 == address.ipv6 && same_prefix(address.bytes, range->bytes, bits);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    if (text.empty() || !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

bool valid_domain(std::string_view name) {
    return !name.empty() && std::ranges::all_of(name, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    });
}

}  // namespace

std::string proxy_server::where() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

result<proxy_server> parse_proxy_url(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return make_failure(failure_kind::config, "invalid proxy URL '" +
                                                      sanitised_excerpt(without_user_info(text), max_quoted) +
                                                      "': " + std::string{why});
    };
    std::string_view rest = text;
    if (auto scheme_end = text.find("://"); scheme_end != std::string_view::npos) {
        auto scheme = lower(text.substr(0, scheme_end));
        if (scheme == "https")
            return bad("https:// proxies are not supported; give the proxy as http://host:port (requests to "
                       "https:// targets still use TLS end to end, through a CONNECT tunnel)");
        if (scheme != "http") return bad("the scheme must be http://, as in http://proxy.example.com:3128");
        rest = text.substr(scheme_end + 3);
    }
    // The credentials end at the last '@', so that an unencoded '/' or '@' in the password is still
    // taken for part of it.
    proxy_server proxy;
    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
        auto user_info = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = user_info.find(':');
        auto user = percent_decode(user_info.substr(0, colon));
        auto password =
            percent_decode(colon == std::string_view::npos ? std::string_view{} : user_info.substr(colon + 1));
        if (!user || !password) return bad("a '%' in the user or password is not followed by two hex digits");
        if (user->empty()) return bad("the user name before ':' is empty");
        proxy.authorization = basic_authorization(*user, *password);
    }
    auto host = parse_url("http://" + std::string{rest});
    if (!host) return bad("expected http://[user:password@]host[:port]");
    proxy.host = std::move(host->host);
    proxy.port = host->port;
    return proxy;
}

bool no_proxy_rules::matches(std::string_view host, std::uint16_t port) const {
    if (all_) return true;
    auto name = lower(host);
    while (!name.empty() && name.back() == '.') name.pop_back();
    auto address = parse_ip(name);
    return std::ranges::any_of(entries_, [&](entry const& e) {
        if (e.port != 0 && e.port != port) return false;
        if (!e.domain.empty())
            return name == e.domain || (name.size() > e.domain.size() && name.ends_with(e.domain) &&
                                        name[name.size() - e.domain.size() - 1] == '.');
        return address && address->ipv6 == e.ipv6 && same_prefix(address->bytes, e.address, e.prefix_bits);
    });
}

result<no_proxy_rules> parse_no_proxy(std::string_view text) {
    no_proxy_rules rules;
    for (std::size_t begin = 0; begin <= text.size();) {
        auto end = std::min(text.find(',', begin), text.size());
        auto item = trim(text.substr(begin, end - begin));
        begin = end + 1;
        if (item.empty()) continue;
        auto bad = [&](std::string_view why) {
            return make_failure(failure_kind::config,
                                "entry \"" + sanitised_excerpt(item, max_quoted) + "\" " + std::string{why} +
                                    "; expected host names (example.com, .example.com), IP addresses, CIDR ranges "
                                    "(10.0.0.0/8, fd00::/8), each with an optional :port, or *");
        };
        if (item == "*") {
            rules.all_ = true;
            continue;
        }
        no_proxy_rules::entry rule;
        std::string_view host = item;
        // An IPv6 address or range has colons of its own: a port comes only after brackets.
        if (host.front() == '[') {
            auto close = host.find(']');
            if (close == std::string_view::npos) return bad("has an unterminated '['");
            auto after = host.substr(close + 1);
            host = host.substr(1, close - 1);
            if (!after.empty()) {
                auto port = after.front() == ':' ? parse_port(after.substr(1)) : std::nullopt;
                if (!port) return bad("has a port that is not a number from 1 to 65535");
                rule.port = *port;
            }
        } else if (auto colon = host.rfind(':'); colon != std::string_view::npos && host.find(':') == colon) {
            // One colon: host:port, IPv4:port or IPv4-range:port (an IPv6 address has two at least).
            auto port = parse_port(host.substr(colon + 1));
            if (!port) return bad("has a port that is not a number from 1 to 65535");
            rule.port = *port;
            host = host.substr(0, colon);
        }
        auto slash = host.find('/');
        auto address = parse_ip(host.substr(0, slash));
        if (address) {
            rule.address = address->bytes;
            rule.ipv6 = address->ipv6;
            rule.prefix_bits = address->bits();
            if (slash != std::string_view::npos) {
                auto bits_text = host.substr(slash + 1);
                unsigned bits = 0;
                auto [last, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
                if (bits_text.empty() || ec != std::errc{} || last != bits_text.data() + bits_text.size() ||
                    bits > address->bits())
                    return bad("has a prefix length that is not a number from 0 to " +
                               std::to_string(address->bits()));
                rule.prefix_bits = bits;
            }
            rules.entries_.push_back(rule);
            continue;
        }
        if (slash != std::string_view::npos) return bad("is not a CIDR range");
        auto name = lower(host);
        if (name.starts_with("*.")) name.erase(0, 1);
        while (!name.empty() && name.front() == '.') name.erase(0, 1);
        while (!name.empty() && name.back() == '.') name.pop_back();
        if (!valid_domain(name)) return bad("is not a host name, an IP address or a CIDR range");
        rule.domain = std::move(name);
        rules.entries_.push_back(std::move(rule));
    }
    return rules;
}

proxy_server const* proxy_settings::proxy_for(url const& target) const {
    auto const& proxy = target.uses_tls() ? https : http;
    if (!proxy) return nullptr;
    if (auto address = parse_ip(target.host)) {
        if (address->ipv6 && in_range(*address, "::ffff:0.0.0.0", 96)) {  // IPv4-mapped: the IPv4 address it is
            std::copy_n(address->bytes.begin() + 12, 4, address->bytes.begin());
            address->ipv6 = false;
        }
        bool on_link = address->ipv6 ? in_range(*address, "fe80::", 10) || in_range(*address, "fd00:ec2::254", 128) ||
                                           in_range(*address, "fd00:ec2::23", 128)
                                     : in_range(*address, "169.254.0.0", 16);
        if (on_link) return nullptr;
    }
    if (no_proxy.matches(target.host, target.port)) return nullptr;
    return &*proxy;
}

std::string describe_route(proxy_settings const& proxies, url const& target) {
    auto const* proxy = proxies.proxy_for(target);
    return proxy ? "through the proxy " + proxy->where() : "direct";
}

}  // namespace rancher_ecr
