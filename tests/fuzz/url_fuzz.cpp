// URLs: parse_url (AWS_ENDPOINT_URL*, the container credential URI, links), percent-encoding,
// without_user_info, and CATTLE_URL's normalisation and the links of Rancher's answers
// (rancher_url). The input is a URL; after its first newline, a link to resolve against it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "net/url.hpp"
#include "rancher/rancher_url.hpp"

namespace {

using namespace rancher_ecr;
using rancher_ecr::fuzz::contains;

// Put into user info by the target itself: no message may quote it.
constexpr std::string_view secret_marker = "Zq7pAsSwOrDmArKeR7qZ";

bool no_space_or_control(std::string_view text) {
    for (char c : text) {
        auto const byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7f) return false;
    }
    return true;
}

void check_parsed(url const& parsed, std::string_view text) {
    FUZZ_CHECK(parsed.scheme == "http" || parsed.scheme == "https", text);
    FUZZ_CHECK(!parsed.host.empty(), text);
    for (char c : parsed.host) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), text);
    FUZZ_CHECK(parsed.host.find_first_of("@/?#[] ") == std::string::npos, text);
    FUZZ_CHECK(parsed.port != 0, text);
    FUZZ_CHECK(parsed.target.starts_with('/'), text);
    FUZZ_CHECK(parsed.target.find('#') == std::string::npos, text);
    FUZZ_CHECK(no_space_or_control(parsed.target), text);
    // What it gives back as text reads as the same URL.
    auto again = parse_url(parsed.text());
    FUZZ_CHECK(again.has_value(), parsed.text());
    FUZZ_CHECK(again->scheme == parsed.scheme && again->host == parsed.host && again->port == parsed.port &&
                   again->target == parsed.target,
               parsed.text());
}

void check_url(std::string_view text) {
    auto parsed = parse_url(text);
    if (parsed) {
        check_parsed(*parsed, text);
    } else {
        FUZZ_CHECK(parsed.error().kind == failure_kind::config, parsed.error().message);
        FUZZ_CHECK(fuzz::no_control_characters(parsed.error().message), parsed.error().message);
    }

    auto cattle = normalise_cattle_url(text);
    if (cattle) {
        check_parsed(*cattle, text);
        auto const& path = cattle->target;
        FUZZ_CHECK(path.find('?') == std::string::npos, path);
        FUZZ_CHECK(path.size() == 1 || !path.ends_with('/'), path);
        FUZZ_CHECK(path != "/v1" && !path.starts_with("/v1/"), path);
        auto twice = normalise_cattle_url(*cattle);
        FUZZ_CHECK(twice && twice->text() == cattle->text(), cattle->text());
    } else {
        FUZZ_CHECK(fuzz::no_control_characters(cattle.error().message), cattle.error().message);
    }
}

// The API keys go to CATTLE_URL's origin only, whatever the link says.
void check_link(url const& base, std::string_view link) {
    auto resolved = resolve_rancher_link(base, link);
    if (!resolved) {
        FUZZ_CHECK(resolved.error().kind == failure_kind::bad_response, resolved.error().message);
        return;
    }
    FUZZ_CHECK(resolved->origin() == base.origin(), link);
    FUZZ_CHECK(resolved->target.starts_with('/'), link);
    FUZZ_CHECK(no_space_or_control(resolved->target), link);
}

void check_encoding(std::string_view text) {
    for (bool keep_slash : {false, true}) {
        auto const encoded = percent_encode(text, keep_slash);
        auto upper_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
        for (std::size_t i = 0; i < encoded.size(); ++i) {
            char const c = encoded[i];
            if (c == '%') {
                FUZZ_CHECK(i + 2 < encoded.size() && upper_hex(encoded[i + 1]) && upper_hex(encoded[i + 2]), encoded);
                i += 2;
                continue;
            }
            bool const unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
            FUZZ_CHECK(unreserved, encoded);
        }
        auto const decoded = percent_decode(encoded);
        FUZZ_CHECK(decoded && *decoded == text, encoded);
    }
    auto const with_query = with_query_parameter("/v2-beta/registrycredentials", "registryId", text);
    auto const value = with_query.substr(with_query.find("registryId=") + 11);
    auto const decoded = percent_decode(value);
    FUZZ_CHECK(decoded && *decoded == text, with_query);
}

// Whatever stands between "://" (or the start) and the last '@' is masked.
void check_user_info_masking(std::string_view text) {
    auto const at = text.rfind('@');
    if (at == std::string_view::npos || contains(text, secret_marker)) return;
    std::string marked{text};
    marked.insert(at, secret_marker);
    FUZZ_CHECK(!contains(without_user_info(marked), secret_marker), marked);
    if (auto parsed = parse_url(marked); !parsed) FUZZ_CHECK(!contains(parsed.error().message, secret_marker), marked);
    if (auto cattle = normalise_cattle_url(marked); !cattle)
        FUZZ_CHECK(!contains(cattle.error().message, secret_marker), marked);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const input{reinterpret_cast<char const*>(data), size};
    auto const newline = input.find('\n');
    auto const first = input.substr(0, newline);
    check_url(first);
    check_user_info_masking(first);
    check_encoding(input.substr(0, 200));
    if (newline != std::string_view::npos) {
        auto base = normalise_cattle_url(first);
        auto const link = input.substr(newline + 1);
        if (base) check_link(*base, link);
        check_link(url{"https", "rancher.example.com", 443, "/v2-beta/projects/1a5"}, link);
        check_url(link);
    }
    return 0;
}
