#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "error.hpp"
#include "net/url.hpp"

namespace rancher_ecr {

// The v2-beta API base that CATTLE_URL names, normalised as go-rancher's v2 client does
// (spec rancher.md §1.1): an empty path or "/" becomes "/v2-beta"; a leading "/v1" segment
// ("/v1" or "/v1/...", not "/v10") becomes "/v2-beta"; what follows it ("/projects/1a5") and
// any other path are kept; trailing slashes are dropped. v1 and v2-beta serve the same registry
// types, and the email that v1 requires is always sent (§1.7), so moving to v2-beta loses nothing.
// Fails (kind config, quoting the URL without user info) when the URL does not parse or carries
// a query, which an API base has no use for.
result<url> normalise_cattle_url(std::string_view text);

// The same normalisation for an already parsed URL.
result<url> normalise_cattle_url(url base);

// Which Rancher API a URL names: 1.x (Cattle, v1 / v2-beta) or 2.x (norman v3).
enum class rancher_generation { cattle, norman };

// What CATTLE_URL says about the API behind it.
struct rancher_api_choice {
    // nullopt for a bare origin ("https://rancher.example.com", trailing slash or not): ask the
    // server (GET /v3, is_norman_discovery_answer).
    std::optional<rancher_generation> generation;
    url api;              // 2.x: ".../v3" (a path prefix before it kept); else the URL as given
    std::string project;  // 2.x: the project id in ".../v3/projects/<id>" or ".../v3/project/<id>"
};

// ".../v3", ".../v3/projects/<cluster>:<project>" and ".../v3/project/<cluster>:<project>" are
// Rancher 2.x; a bare origin is to be discovered; anything else stays Rancher 1.x, as today
// (normalise_cattle_url). Fails (kind config, naming CATTLE_URL) for another path under /v3 and,
// as normalise_cattle_url, for a query.
result<rancher_api_choice> classify_cattle_url(url base);

// Where to send a request for `link`, a URL that Rancher put in an answer (X-API-Schemas,
// links.collection, links.self, pagination.next): its path and query on `base`'s origin.
// Rancher builds links from the request's Host and X-Forwarded-* headers, which a proxy in front
// of it often gets wrong (http:// links behind TLS, an internal host name), and the API keys must
// never go anywhere but CATTLE_URL's origin. A path starting with '/' is accepted too. Fails (kind
// bad_response, quoting the link) for anything else.
result<url> resolve_rancher_link(url const& base, std::string_view link);

// The part of `link_path` below `base_path` ("/registries" for ".../projects/1a5/registries" below
// ".../projects/1a5"): where one environment's collection says the same collection of another
// lies below its own path. Nothing when the link is not below the base or carries a query.
std::optional<std::string> path_below(std::string_view base_path, std::string_view link_path);

// `target` with "name=value" appended to its query, `value` percent-encoded.
std::string with_query_parameter(std::string target, std::string_view name, std::string_view value);

}  // namespace rancher_ecr
