#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "support/stand_in_process.hpp"

namespace rancher_ecr::testing {

// The Rancher 1.x stand-in (tests/support/rancher_stand_in.py) on a free port, and a plain HTTP
// client for its control API (/_control/...). Stops when this object goes. Not thread-safe.
// state() holds every registry and credential (secretValue included) and the request log; reset()
// leaves no registries, credentials, faults or log.
class rancher_stand_in : public stand_in_process {
public:
    // Starts the script with `arguments` added; throws (failing the test) when it does not come up.
    explicit rancher_stand_in(std::vector<std::string> const& arguments = {});

    std::string const& project() const { return project_; }  // "1a5"

    // Seeds a registry or a credential; returns its id ("1sp12", "1c34"). `removed` sets the
    // removed timestamp.
    std::string add_registry(std::string const& server_address, std::string const& state = "active",
                             bool removed = false);
    std::string add_credential(std::string const& registry_id, std::string const& public_value,
                               std::string const& secret_value, std::string const& state = "active",
                               bool removed = false);

    // The stored registry / credential with this id (throws if there is none).
    boost::json::object registry(std::string const& id);
    boost::json::object credential(std::string const& id);
    // Every stored credential of `registry_id`, removed ones included.
    std::vector<boost::json::object> credentials_of(std::string const& registry_id);
    std::vector<boost::json::object> registries();

    // With --account-key: the user key that sees every environment.
    std::string account_access_key() const { return text_of(description(), "account_access_key"); }
    std::string account_secret_key() const { return text_of(description(), "account_secret_key"); }
    // Adds an environment (POST /_control/environments); returns its id. Removes one by id or name.
    std::string add_environment(std::string const& name);
    void remove_environment(std::string const& id_or_name);
    // The stored rows of one environment: {"id","name","registries":[...],"credentials":[...]}.
    boost::json::object environment(std::string const& id_or_name);

private:
    std::string project_;
};

}  // namespace rancher_ecr::testing
