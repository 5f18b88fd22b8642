#include "peer_text.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

namespace rancher_ecr {

namespace {

constexpr std::size_t min_secret_size = 8;
constexpr std::size_t max_registered = 1024;  // many targets: two Rancher keys each, and the tokens
constexpr std::string_view mask = "***";

std::mutex registered_mutex;
std::vector<std::string> registered;  // oldest first

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// RFC 7235's token68: what Basic and Bearer credentials are made of.
bool is_token68(char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}
char lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text.begin(), [](char p, char t) { return p == lower(t); });
}

// The forms in which a peer may send `secret` back: as it went, inside a JSON string of a serializer
// that escapes '/', percent-encoded in a query string or form.
std::vector<std::string> forms_of(std::string_view secret) {
    std::string json, percent;
    for (char c : secret) {
        if (c == '/' || c == '"' || c == '\\') json += '\\';
        json += c;
        if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            percent += c;
        } else {
            constexpr std::string_view digits = "0123456789ABCDEF";
            auto const byte = static_cast<unsigned char>(c);
            percent += '%';
            percent += digits[byte >> 4];
            percent += digits[byte & 0xf];
        }
    }
    std::vector<std::string> forms{std::string{secret}};
    if (json != secret) forms.push_back(std::move(json));
    if (percent != secret) forms.push_back(std::move(percent));
    return forms;
}

struct credential_scheme {
    std::string_view prefix;  // lower case, matched ignoring case after a non-alphanumeric character
    bool (*is_part)(char);
    std::size_t min_size;
    bool (*looks_encoded)(std::string_view);
};

bool any_length(std::string_view) { return true; }
// "Basic authentication" is prose, "Basic dXNlcjpwYXNz" a credential: an encoded one holds a digit,
// '+', '/', '=' or a capital after its first character.
bool looks_encoded(std::string_view credential) {
    return std::any_of(credential.begin() + 1, credential.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' || is_upper(c);
    });
}

constexpr credential_scheme schemes[] = {
    {"basic ", is_token68, 8, looks_encoded},
    {"bearer ", is_token68, 8, looks_encoded},
    // SigV4: "..., Signature=<hex>" in Authorization, "X-Amz-Signature=<hex>" in a presigned URL.
    {"signature=", is_hex, 16, any_length},
};

// `text` with the credential after each scheme's prefix masked.
std::string mask_credentials(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        bool masked = false;
        if (i == 0 || !is_alnum(text[i - 1])) {
            for (auto const& scheme : schemes) {
                if (!starts_with_ignoring_case(text.substr(i), scheme.prefix)) continue;
                auto const start = i + scheme.prefix.size();
                auto end = start;
                while (end < text.size() && scheme.is_part(text[end])) ++end;
                auto const credential = text.substr(start, end - start);
                if (credential.size() < scheme.min_size || !scheme.looks_encoded(credential)) continue;
                out.append(text.substr(i, scheme.prefix.size()));
                out += mask;
                i = end;
                masked = true;
                break;
            }
        }
        if (!masked) out += text[i++];
    }
    return out;
}

}  // namespace

std::string_view json_kind_name(boost::json::kind value_kind) {
    using kind = boost::json::kind;
    switch (value_kind) {
        case kind::null: return "null";
        case kind::bool_: return "a boolean";
        case kind::int64:
        case kind::uint64:
        case kind::double_: return "a number";
        case kind::string: return "a string";
        case kind::array: return "an array";
        case kind::object: return "an object";
    }
    return "an unknown JSON value";
}

std::string escape_control_characters(std::string_view text) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void mask_in_peer_text(std::string_view secret) {
    if (secret.size() < min_secret_size) return;
    std::lock_guard lock{registered_mutex};
    if (auto known = std::ranges::find(registered, secret); known != registered.end()) registered.erase(known);
    if (registered.size() == max_registered) registered.erase(registered.begin());
    registered.emplace_back(secret);
}

std::string mask_secrets(std::string_view text, std::span<std::string const> secrets) {
    std::vector<std::string> forms;
    for (auto const& secret : secrets)
        if (secret.size() >= min_secret_size) std::ranges::move(forms_of(secret), std::back_inserter(forms));
    // The longest first: a secret that contains another is masked whole, not around the other's mask.
    std::ranges::sort(forms, std::greater<>{}, &std::string::size);
    std::string out{text};
    for (auto const& form : forms)
        for (auto at = out.find(form); at != std::string::npos; at = out.find(form, at + mask.size()))
            out.replace(at, form.size(), mask);
    return mask_credentials(out);
}

std::string sanitised_excerpt(std::string_view text, std::size_t max_size) {
    std::string masked;
    {
        std::lock_guard lock{registered_mutex};
        masked = mask_secrets(text, registered);
    }
    std::string out;
    bool pending_space = false;
    for (char c : masked) {
        auto const byte = static_cast<unsigned char>(c);
        if (byte == ' ' || byte == '\t' || byte == '\r' || byte == '\n') {
            pending_space = !out.empty();
            continue;
        }
        if (out.size() >= max_size) {
            out += "...";
            break;
        }
        if (pending_space) out += ' ';
        pending_space = false;
        out += (byte > 0x20 && byte < 0x7f) ? c : '?';
    }
    return out;
}

}  // namespace rancher_ecr
