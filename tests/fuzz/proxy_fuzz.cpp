// The proxy variables: HTTPS_PROXY / HTTP_PROXY (parse_proxy_url) and NO_PROXY (parse_no_proxy,
// no_proxy_rules::matches), and the choice of route (proxy_settings::proxy_for). The input is a
// proxy URL; after its first newline a NO_PROXY list; after the next one a target URL.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "net/proxy.hpp"
#include "net/url.hpp"

namespace {

using namespace rancher_ecr;
using rancher_ecr::fuzz::contains;

// Put into the user info by the target itself: no message or log text may show it.
constexpr std::string_view secret_marker = "Zq7pAsSwOrDmArKeR7qZ";

void check_proxy(proxy_server const& proxy, std::string_view text) {
    FUZZ_CHECK(!proxy.host.empty(), text);
    FUZZ_CHECK(proxy.port != 0, text);
    for (char c : proxy.host) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), text);
    FUZZ_CHECK(proxy.authorization.empty() || proxy.authorization.starts_with("Basic "), text);
    FUZZ_CHECK(proxy.where().find('@') == std::string::npos, proxy.where());
    FUZZ_CHECK(fuzz::printable_ascii(proxy.where()), proxy.where());
}

void check_proxy_url(std::string_view text) {
    auto proxy = parse_proxy_url(text);
    if (proxy) {
        check_proxy(*proxy, text);
        // Credentials in the URL come out as Proxy-Authorization, never as part of the host.
        if (text.find('@') == std::string_view::npos) FUZZ_CHECK(proxy->authorization.empty(), text);
    } else {
        FUZZ_CHECK(proxy.error().kind == failure_kind::config, proxy.error().message);
        FUZZ_CHECK(fuzz::printable_ascii(proxy.error().message), proxy.error().message);
    }

    // A password is masked wherever it stands before the last '@'.
    auto const at = text.rfind('@');
    if (at == std::string_view::npos || contains(text, secret_marker)) return;
    std::string marked{text};
    marked.insert(at, secret_marker);
    auto with_secret = parse_proxy_url(marked);
    if (with_secret) {
        FUZZ_CHECK(!with_secret->authorization.empty(), marked);
        FUZZ_CHECK(!contains(with_secret->where(), secret_marker), marked);
        FUZZ_CHECK(!contains(with_secret->host, secret_marker), marked);
    } else {
        FUZZ_CHECK(!contains(with_secret.error().message, secret_marker), with_secret.error().message);
    }
}

bool plain_domain(std::string_view name) {
    if (name.empty() || name.front() == '.' || name.back() == '.') return false;
    for (char c : name) {
        bool const ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!ok) return false;
    }
    // Not an IPv4 address (digits and dots alone), which matches addresses only.
    return name.find_first_not_of("0123456789.") != std::string_view::npos;
}

void check_no_proxy(std::string_view list, std::string_view target_text) {
    auto rules = parse_no_proxy(list);
    if (!rules) {
        FUZZ_CHECK(rules.error().kind == failure_kind::config, rules.error().message);
        FUZZ_CHECK(fuzz::printable_ascii(rules.error().message), rules.error().message);
        return;
    }
    // Every plain host name listed without a port matches itself and its subdomains on any port.
    for (std::size_t begin = 0; begin <= list.size();) {
        auto const end = std::min(list.find(',', begin), list.size());
        auto item = list.substr(begin, end - begin);
        begin = end + 1;
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item == "*") {
            FUZZ_CHECK(rules->matches("anything.example", 1), list);
            continue;
        }
        if (!plain_domain(item)) continue;
        FUZZ_CHECK(rules->matches(item, 443), list);
        FUZZ_CHECK(rules->matches("sub." + std::string{item}, 1), list);
        FUZZ_CHECK(rules->matches(std::string{item} + ".", 8080), list);
    }

    proxy_settings proxies;
    proxies.https = proxy_server{"proxy.corp", 3128, {}};
    proxies.http = proxy_server{"proxy.corp", 3128, {}};
    proxies.no_proxy = std::move(*rules);
    // The instance's own link never goes through a proxy, whatever NO_PROXY says.
    for (auto link : {"http://169.254.169.254/latest/api/token", "http://169.254.170.2/v2/credentials",
                      "http://[fd00:ec2::254]/latest/api/token", "http://[fd00:ec2::23]/", "http://[fe80::1]/",
                      "https://[::ffff:169.254.170.23]/"}) {
        auto target = parse_url(link);
        FUZZ_CHECK(target.has_value(), link);
        FUZZ_CHECK(proxies.proxy_for(*target) == nullptr, link);
    }
    auto target = parse_url(target_text);
    if (!target) return;
    auto const* chosen = proxies.proxy_for(*target);
    if (proxies.no_proxy.matches(target->host, target->port)) FUZZ_CHECK(chosen == nullptr, target_text);
    FUZZ_CHECK(describe_route(proxies, *target) == (chosen ? "through the proxy proxy.corp:3128" : "direct"),
               target_text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const input{reinterpret_cast<char const*>(data), size};
    auto const first_newline = input.find('\n');
    check_proxy_url(input.substr(0, first_newline));
    if (first_newline == std::string_view::npos) return 0;
    auto const rest = input.substr(first_newline + 1);
    auto const second_newline = rest.find('\n');
    auto const target = second_newline == std::string_view::npos ? std::string_view{"https://api.ecr.us-east-1.amazonaws.com/"}
                                                                  : rest.substr(second_newline + 1);
    check_no_proxy(rest.substr(0, second_newline), target);
    return 0;
}
