#include "rancher/rancher_url.hpp"

#include <cctype>

namespace rancher_ecr {

result<url> normalise_cattle_url(std::string_view text) {
    auto parsed = parse_url(text);
    if (!parsed) {
        auto problem = parsed.error();
        problem.message = "CATTLE_URL: " + problem.message;
        return problem;
    }
    return normalise_cattle_url(std::move(*parsed));
}

result<url> normalise_cattle_url(url base) {
    std::string path = base.target;
    if (path.find('?') != std::string::npos)
        // Masked as a URL with user info is: a password holding '/' or '?' leaves its '@' in the
        // path or query (found by tests/fuzz/url_fuzz).
        return make_failure(failure_kind::config, "CATTLE_URL '" + without_user_info(base.text()) +
                                                      "' carries a query; give the API base only, e.g. " +
                                                      base.origin() + "/v2-beta");
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (path.empty()) {
        path = "/v2-beta";
    } else if (path == "/v1" || path.starts_with("/v1/")) {
        path = "/v2-beta" + path.substr(3);
    }
    base.target = std::move(path);
    return base;
}

result<rancher_api_choice> classify_cattle_url(url base) {
    if (base.target.find('?') != std::string::npos) {
        auto checked = normalise_cattle_url(base);  // the message for a query
        if (!checked) return checked.error();
    }
    std::string path = base.target;
    while (!path.empty() && path.back() == '/') path.pop_back();
    rancher_api_choice choice{std::nullopt, base, {}};
    if (path.empty()) {
        choice.api.target = "/";
        return choice;
    }
    // The "/v3" segment, with what comes before it (a path prefix of a proxy) and after it.
    std::size_t v3 = path.ends_with("/v3") ? path.size() - 3 : path.find("/v3/");
    if (v3 == std::string::npos) {
        choice.generation = rancher_generation::cattle;
        return choice;
    }
    choice.generation = rancher_generation::norman;
    choice.api.target = path.substr(0, v3 + 3);
    std::string_view rest = std::string_view{path}.substr(v3 + 3);
    if (rest.empty()) return choice;
    for (std::string_view prefix : {"/projects/", "/project/"}) {
        if (!rest.starts_with(prefix)) continue;
        auto id = rest.substr(prefix.size());
        if (!id.empty() && id.find('/') == std::string_view::npos && id.find(':') != std::string_view::npos) {
            choice.project = std::string{id};
            return choice;
        }
    }
    return make_failure(failure_kind::config,
                        "CATTLE_URL '" + without_user_info(base.text()) +
                            "' is no Rancher API base; for Rancher 2.x give " + base.origin() + choice.api.target +
                            " or " + base.origin() + choice.api.target + "/projects/<cluster>:<project>");
}

result<url> resolve_rancher_link(url const& base, std::string_view link) {
    url out = base;
    if (link.starts_with("/") && !link.starts_with("//")) {
        auto parsed = parse_url(base.origin() + std::string{link});
        if (!parsed) return make_failure(failure_kind::bad_response, "unusable link in a Rancher answer: " + parsed.error().message);
        out.target = std::move(parsed->target);
        return out;
    }
    auto parsed = parse_url(link);
    if (!parsed) return make_failure(failure_kind::bad_response, "unusable link in a Rancher answer: " + parsed.error().message);
    out.target = std::move(parsed->target);
    return out;
}

std::optional<std::string> path_below(std::string_view base_path, std::string_view link_path) {
    if (base_path.empty() || base_path.back() == '/' || link_path.size() <= base_path.size() + 1 ||
        !link_path.starts_with(base_path) || link_path[base_path.size()] != '/' ||
        link_path.find('?') != std::string_view::npos)
        return std::nullopt;
    return std::string{link_path.substr(base_path.size())};
}

std::string with_query_parameter(std::string target, std::string_view name, std::string_view value) {
    static constexpr char hex[] = "0123456789ABCDEF";
    if (target.find('?') == std::string::npos) {
        target += '?';
    } else if (target.back() != '?' && target.back() != '&') {
        target += '&';
    }
    target += name;
    target += '=';
    for (char c : value) {
        auto const byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
            target += c;
        } else {
            target += '%';
            target += hex[byte >> 4];
            target += hex[byte & 0x0f];
        }
    }
    return target;
}

}  // namespace rancher_ecr
