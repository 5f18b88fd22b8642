#pragma once

#include <span>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "error.hpp"
#include "net/http_transport.hpp"
#include "net/url.hpp"

namespace rancher_ecr {

// A place a key can write to, found by listing: a Rancher 1.x environment, or a 2.x project.
struct rancher_place {
    std::string id;    // "1a5", or "c-abcde:p-xyz12"
    std::string name;  // the environment's name (its id when it has none), or "cluster/project"
};

// Every environment an account key sees: GET <base>/projects (every page), Basic auth.
// `base` is the normalised v2-beta API (".../v2-beta").
boost::asio::awaitable<result<std::vector<rancher_place>>> list_cattle_environments(http_transport& transport,
                                                                                    url const& base,
                                                                                    std::string const& access_key,
                                                                                    std::string const& secret_key);

// Every project a key sees, named cluster/project: GET <api>/projects and <api>/clusters (every
// page), Bearer auth. `api` is ".../v3".
boost::asio::awaitable<result<std::vector<rancher_place>>> list_norman_projects(http_transport& transport,
                                                                                url const& api,
                                                                                std::string const& access_key,
                                                                                std::string const& secret_key);

// A place a target writes to, with the name of the target made for it.
struct chosen_place {
    rancher_place place;
    std::string target_name;  // "<target>/<place name>", or "<target>/<id>" for a second place of one name
};

// What a listing gives a target with `environments`/`projects`.
struct place_choice {
    std::vector<chosen_place> chosen;    // in the order listed
    std::vector<std::string> not_found;  // the names in `wanted` that no listed place has
    std::vector<std::string> refused;    // places left out: an id that cannot stand in a URL path (shown printable)
};

// The places `wanted` names (by id, name, or a 2.x project's name without its cluster), or all of
// them when `all`. A place name from the server is shown printable (a control character becomes
// '?') and bounded, since it names a target in logs, health and metrics; a place whose id is not
// a plain word (letters, digits, '-', '_', ':', '.') is refused, since the id goes into request paths.
place_choice choose_places(std::string_view target_name, std::span<rancher_place const> listed, bool all,
                           std::span<std::string const> wanted);

// What `choice` missed, for the listing target's error ("environments: \"x\" named no environment
// of the 4 the key sees; ..."), naming at most 5 of each; empty when it missed nothing. `what` is
// "environment" or "project".
std::string describe_missed_places(place_choice const& choice, std::string_view what, std::size_t listed);

}  // namespace rancher_ecr
