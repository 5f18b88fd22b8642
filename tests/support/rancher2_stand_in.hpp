#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "support/stand_in_process.hpp"

namespace rancher_ecr::testing {

// The Rancher 2.x (norman v3) stand-in (tests/support/rancher2_stand_in.py) on a free port, and a
// plain HTTP client for its control API (/_control/...). Stops when this object goes. Not
// thread-safe. state() holds the world, every stored credential (passwords and auth included), the
// request log, the fault queue, "held" and the settings; reset() goes back to the seeded world, no
// faults or log.
//
// Seeded world: clusters "local" and "c-abcde" (name "production"); projects "local:p-default"
// ("Default"), "local:p-system" ("System") and "c-abcde:p-xyz12" ("Default"); namespaces "apps" and
// "jobs" in local:p-default, "web" in c-abcde:p-xyz12.
class rancher2_stand_in : public stand_in_process {
public:
    // Starts the script with `arguments` added (e.g. {"--public-url", "https://127.0.0.1:8443"});
    // throws (failing the test) when it does not come up. access_key() is a token-xxxxx.
    explicit rancher2_stand_in(std::vector<std::string> const& arguments = {});

    // Seeds a credential of `project` ("c-abcde:p-xyz12"): project-scoped without `namespace_name`,
    // else namespaced in that namespace of the project. `registries` maps hosts to
    // {"username","password"}. Returns its id ("p-xyz12:ecr", "web:ecr").
    std::string add_credential(std::string const& project, std::optional<std::string> const& namespace_name,
                               std::string const& name, boost::json::object registries);

    std::vector<boost::json::object> credentials();
    // The stored credential with this id (throws if there is none).
    boost::json::object credential(std::string const& id);
    // The API request log: {"method","path","query","body","status","fault","authorization_scheme"}.
    std::vector<boost::json::object> requests();
};

}  // namespace rancher_ecr::testing
