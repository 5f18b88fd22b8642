#include "aws/sigv4.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "net/url.hpp"

namespace rancher_ecr {

namespace {

using digest = std::array<unsigned char, 32>;

// Never signed: the signature itself, headers a proxy may change or drop (hop-by-hop ones and
// expect), and those an SDK or a tracer may rewrite on the way. Apart from authorization (which
// botocore deletes before signing) this is botocore's SIGNED_HEADERS_BLACKLIST (botocore/auth.py).
constexpr std::array<std::string_view, 12> unsigned_headers{
    "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"};

std::span<unsigned char const> bytes_of(std::string_view text) {
    return {reinterpret_cast<unsigned char const*>(text.data()), text.size()};
}

digest sha256(std::string_view data) {
    digest out{};
    if (EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SigV4: SHA-256 failed");
    return out;
}

digest hmac_sha256(std::span<unsigned char const> key, std::string_view data) {
    digest out{};
    auto const message = bytes_of(data);
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(), out.data(),
             nullptr) == nullptr)
        throw std::runtime_error("SigV4: HMAC-SHA256 failed");
    return out;
}

std::string hex(std::span<unsigned char const> data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (unsigned char c : data) {
        out += digits[c >> 4];
        out += digits[c & 0xF];
    }
    return out;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Decodes valid %XX escapes and leaves everything else, '+' included, as it is.
std::string uri_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        int const high = text[i] == '%' && i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
        int const low = high >= 0 ? hex_value(text[i + 2]) : -1;
        if (low >= 0) {
            out += static_cast<char>(high * 16 + low);
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// Collapses runs of spaces and tabs into one space and drops them at both ends ("Trimall").
std::string trim_all(std::string_view value) {
    std::string out;
    bool space_pending = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            space_pending = !out.empty();
        } else {
            if (space_pending) out += ' ';
            space_pending = false;
            out += c;
        }
    }
    return out;
}

// Removes "." and ".." segments and empty ones (AWS wants "//" collapsed too), keeping a trailing
// slash; the same rules as botocore's remove_dot_segments, for every service but S3.
std::string normalized_path(std::string_view path) {
    if (path.empty()) return "/";
    std::vector<std::string_view> segments;
    for (std::size_t begin = 0; begin <= path.size();) {
        auto end = path.find('/', begin);
        if (end == std::string_view::npos) end = path.size();
        auto const segment = path.substr(begin, end - begin);
        if (segment == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (!segment.empty() && segment != ".") {
            segments.push_back(segment);
        }
        begin = end + 1;
    }
    std::string out = path.front() == '/' ? "/" : "";
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (i > 0) out += '/';
        out += segments[i];
    }
    if (path.back() == '/' && !segments.empty()) out += '/';
    return out;
}

// The path as sent is encoded once more, so an escape "%2F" is signed as "%252F", as AWS
// expects for every service but S3.
std::string canonical_uri(std::string_view path) { return percent_encode(normalized_path(path), true); }

// Each parameter is decoded and encoded again, so that "%e1", "\xe1" and "%E1" sign alike; then
// sorted by key, then value. "a" and "a=" are the same parameter; empty ones ("&&") are dropped.
std::string canonical_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> parameters;
    for (std::size_t begin = 0; begin < query.size();) {
        auto end = query.find('&', begin);
        if (end == std::string_view::npos) end = query.size();
        auto const parameter = query.substr(begin, end - begin);
        if (!parameter.empty()) {
            auto const equals = parameter.find('=');
            auto const value = equals == std::string_view::npos ? std::string_view{} : parameter.substr(equals + 1);
            parameters.emplace_back(percent_encode(uri_decode(parameter.substr(0, equals)), false),
                                    percent_encode(uri_decode(value), false));
        }
        begin = end + 1;
    }
    std::ranges::sort(parameters);
    std::string out;
    for (auto const& [key, value] : parameters) {
        if (!out.empty()) out += '&';
        out += key;
        out += '=';
        out += value;
    }
    return out;
}

struct canonical_header_list {
    std::string lines;  // "name:value\n" for each signed name
    std::string names;  // "name1;name2"
};

// Lowercase names sorted; values trimmed, and those of a repeated name joined by ',' in
// sending order.
canonical_header_list canonical_headers(std::vector<http_header> const& headers) {
    std::vector<http_header> signed_headers;
    for (auto const& header : headers) {
        std::string name = header.name;
        std::ranges::transform(name, name.begin(), ascii_lower);
        if (std::ranges::find(unsigned_headers, name) == unsigned_headers.end())
            signed_headers.push_back({std::move(name), trim_all(header.value)});
    }
    std::ranges::stable_sort(signed_headers, {}, &http_header::name);

    canonical_header_list out;
    for (std::size_t i = 0; i < signed_headers.size(); ++i) {
        bool const repeated = i > 0 && signed_headers[i].name == signed_headers[i - 1].name;
        if (repeated) {
            out.lines.back() = ',';  // replaces the previous value's '\n'
        } else {
            if (!out.names.empty()) out.names += ';';
            out.names += signed_headers[i].name;
            out.lines += signed_headers[i].name;
            out.lines += ':';
        }
        out.lines += signed_headers[i].value;
        out.lines += '\n';
    }
    return out;
}

bool is_amz_date(std::string_view text) {
    if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return false;
    auto const digits = [](std::string_view part) {
        return std::ranges::all_of(part, [](char c) { return c >= '0' && c <= '9'; });
    };
    return digits(text.substr(0, 8)) && digits(text.substr(9, 6));
}

std::string amz_date(std::chrono::system_clock::time_point now) {
    auto const seconds = std::chrono::floor<std::chrono::seconds>(now);
    auto const day = std::chrono::floor<std::chrono::days>(seconds);
    std::chrono::year_month_day const date{day};
    std::chrono::hh_mm_ss const time{seconds - day};
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    return text.data();
}

// HMAC chain from the secret to the day's signing key, then the signature. The intermediate
// keys are as good as the secret for that day and region: wipe them once used.
std::string signature_of(std::string_view string_to_sign, std::string_view secret_access_key,
                         std::string_view date, std::string_view region, std::string_view service) {
    std::string seed = "AWS4";
    seed += secret_access_key;
    digest key = hmac_sha256(bytes_of(seed), date);
    OPENSSL_cleanse(seed.data(), seed.size());
    for (std::string_view part : {region, service, std::string_view{"aws4_request"}}) key = hmac_sha256(key, part);
    auto const signature = hmac_sha256(key, string_to_sign);
    OPENSSL_cleanse(key.data(), key.size());
    return hex(signature);
}

}  // namespace

sigv4_signature compute_sigv4(http_request const& request, aws_credentials const& credentials,
                              std::string_view region, std::string_view service) {
    if (!request.header("host")) throw std::invalid_argument("SigV4: the request has no Host header");
    auto const timestamp = request.header("x-amz-date");
    if (!timestamp || !is_amz_date(*timestamp))
        throw std::invalid_argument("SigV4: the request has no valid X-Amz-Date header");

    // A caller may set X-Amz-Content-Sha256 (to the body's hash, or UNSIGNED-PAYLOAD); then
    // that is what AWS checks.
    auto const content_sha256 = request.header("x-amz-content-sha256");
    std::string const payload_hash = content_sha256 ? trim_all(*content_sha256) : hex(sha256(request.body));

    std::string_view const target = request.target;
    auto const query_begin = target.find('?');
    auto const query = query_begin == std::string_view::npos ? std::string_view{} : target.substr(query_begin + 1);
    auto const headers = canonical_headers(request.headers);

    sigv4_signature out;
    out.canonical_request = request.method + '\n' + canonical_uri(target.substr(0, query_begin)) + '\n' +
                            canonical_query(query) + '\n' + headers.lines + '\n' + headers.names + '\n' +
                            payload_hash;

    auto const date = timestamp->substr(0, 8);
    std::string scope{date};
    scope += '/';
    scope += region;
    scope += '/';
    scope += service;
    scope += "/aws4_request";
    out.string_to_sign = "AWS4-HMAC-SHA256\n" + std::string{*timestamp} + '\n' + scope + '\n' +
                         hex(sha256(out.canonical_request));

    out.signature = signature_of(out.string_to_sign, credentials.secret_access_key, date, region, service);
    out.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + '/' + scope +
                        ", SignedHeaders=" + headers.names + ", Signature=" + out.signature;
    return out;
}

void sign_request(http_request& request, aws_credentials const& credentials, std::string_view region,
                  std::string_view service, std::chrono::system_clock::time_point now) {
    request.set_header("X-Amz-Date", amz_date(now));
    if (!credentials.session_token.empty()) request.set_header("X-Amz-Security-Token", credentials.session_token);
    auto const signature = compute_sigv4(request, credentials, region, service);
    request.set_header("Authorization", signature.authorization);
}

}  // namespace rancher_ecr
