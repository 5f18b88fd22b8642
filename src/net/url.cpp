#include "net/url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "ascii_text.hpp"
#include "peer_text.hpp"

namespace rancher_ecr {

namespace {

std::uint16_t default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

bool valid_host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// `text` as a message may quote it: control characters as \xHH (they would garble the log line or
// forge another), at most 200 bytes.
std::string quoted(std::string_view text) {
    constexpr std::size_t max_quoted = 200;
    auto out = escape_control_characters(text.substr(0, max_quoted));
    if (text.size() > max_quoted) out += "...";
    return out;
}

}  // namespace

std::string percent_encode(std::string_view text, bool keep_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        bool const unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '_' || c == '.' || c == '~';
        if (unreserved || (keep_slash && c == '/')) {
            out += c;
        } else {
            auto const byte = static_cast<unsigned char>(c);
            out += '%';
            out += digits[byte >> 4];
            out += digits[byte & 0xF];
        }
    }
    return out;
}

std::optional<std::string> percent_decode(std::string_view text) {
    auto hex_value = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        int high = hex_value(text[i + 1]);
        int low = hex_value(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

std::string without_user_info(std::string_view text) {
    // The authority starts after "scheme://" when what stands before "://" is a scheme (RFC 3986:
    // a letter, then letters, digits, '+', '-', '.'); otherwise from the start, so that in
    // "user:pass@host/x://y" (a bare host:port with credentials, as proxies are given) the '@'
    // still ends user info.
    auto scheme_end = text.find("://");
    auto const scheme = text.substr(0, scheme_end);
    bool const has_scheme = scheme_end != std::string_view::npos && !scheme.empty() &&
                            std::isalpha(static_cast<unsigned char>(scheme.front())) &&
                            std::ranges::all_of(scheme, [](char c) {
                                return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
                            });
    auto authority_begin = has_scheme ? scheme_end + 3 : 0;
    auto at = text.rfind('@');
    if (at == std::string_view::npos || at < authority_begin) return std::string{text};
    return std::string{text.substr(0, authority_begin)} + "***@" + std::string{text.substr(at + 1)};
}

std::string url::authority() const {
    std::string text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != default_port(scheme)) text += ":" + std::to_string(port);
    return text;
}

std::string url::origin() const { return scheme + "://" + authority(); }

std::string url::text() const { return origin() + target; }

result<url> parse_url(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return make_failure(failure_kind::config, "invalid URL '" + quoted(without_user_info(text)) + "': " + std::string{why});
    };
    auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) return bad("expected http://host[:port][/path] or https://...");
    url parsed;
    parsed.scheme = lower(text.substr(0, scheme_end));
    if (parsed.scheme != "http" && parsed.scheme != "https") return bad("the scheme must be http or https");

    auto rest = text.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find('#'));
    auto target_begin = rest.find_first_of("/?");
    auto authority = rest.substr(0, target_begin);
    parsed.target = target_begin == std::string_view::npos ? "/" : std::string{rest.substr(target_begin)};
    if (parsed.target.front() == '?') parsed.target.insert(0, "/");

    if (authority.find('@') != std::string_view::npos)
        return bad("credentials in the URL are not accepted; use the dedicated variables");

    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return bad("unterminated IPv6 address");
        parsed.host = lower(authority.substr(1, close - 1));
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("unexpected text after the IPv6 address");
            port_text = after.substr(1);
            if (port_text.empty()) return bad("empty port");
        }
        if (parsed.host.empty() || parsed.host.find_first_not_of("0123456789abcdef:.") != std::string::npos)
            return bad("invalid IPv6 address");
    } else {
        auto colon = authority.rfind(':');
        parsed.host = lower(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return bad("empty port");
        }
        if (parsed.host.empty()) return bad("missing host");
        if (!std::ranges::all_of(parsed.host, valid_host_char)) return bad("invalid character in the host");
    }

    parsed.port = default_port(parsed.scheme);
    if (!port_text.empty()) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535)
            return bad("the port must be a number from 1 to 65535");
        parsed.port = static_cast<std::uint16_t>(value);
    }
    if (std::ranges::any_of(parsed.target, [](unsigned char c) { return c <= 0x20 || c == 0x7f; }))
        return bad("spaces or control characters in the path");
    return parsed;
}

}  // namespace rancher_ecr
