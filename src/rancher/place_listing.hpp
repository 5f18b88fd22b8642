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

// The places `wanted` names (by name or id), or all of them when `all`; in the order listed.
std::vector<rancher_place> select_places(std::span<rancher_place const> listed, bool all,
                                         std::span<std::string const> wanted);

}  // namespace rancher_ecr
