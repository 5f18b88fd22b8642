#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "net/https_client.hpp"
#include "support/child_process.hpp"

namespace rancher_ecr::testing {

// The Rancher 2.x (norman v3) stand-in (tests/support/rancher2_stand_in.py) on a free port, and a
// plain HTTP client for its control API (/_control/...). Stops when this object goes. Not
// thread-safe.
//
// Seeded world: clusters "local" and "c-abcde" (name "production"); projects "local:p-default"
// ("Default"), "local:p-system" ("System") and "c-abcde:p-xyz12" ("Default"); namespaces "apps" and
// "jobs" in local:p-default, "web" in c-abcde:p-xyz12.
class rancher2_stand_in {
public:
    // Starts the script with `arguments` added (e.g. {"--public-url", "https://127.0.0.1:8443"});
    // throws (failing the test) when it does not come up.
    explicit rancher2_stand_in(std::vector<std::string> const& arguments = {});
    ~rancher2_stand_in();
    rancher2_stand_in(rancher2_stand_in const&) = delete;
    rancher2_stand_in& operator=(rancher2_stand_in const&) = delete;

    std::string const& url() const { return url_; }  // http://127.0.0.1:PORT
    std::string const& access_key() const { return access_key_; }  // token-xxxxx
    std::string const& secret_key() const { return secret_key_; }

    // Seeds a credential of `project` ("c-abcde:p-xyz12"): project-scoped without `namespace_name`,
    // else namespaced in that namespace of the project. `registries` maps hosts to
    // {"username","password"}. Returns its id ("p-xyz12:ecr", "web:ecr").
    std::string add_credential(std::string const& project, std::optional<std::string> const& namespace_name,
                               std::string const& name, boost::json::object registries);

    // GET /_control/state: the world, every stored credential (passwords and auth included), the
    // request log, the fault queue, "held" and the settings.
    boost::json::object state();
    std::vector<boost::json::object> credentials();
    // The stored credential with this id (throws if there is none).
    boost::json::object credential(std::string const& id);
    // The API request log: {"method","path","query","body","status","fault","authorization_scheme"}.
    std::vector<boost::json::object> requests();

    // POST /_control/faults: `fault` as the stand-in takes it, e.g.
    // {"match":{"method":"PUT","path_contains":"dockercredentials"},"fault":"status","status":503}.
    void add_fault(boost::json::object fault);
    void clear_faults();  // DELETE /_control/faults
    void reset();         // POST /_control/reset: back to the seeded world, no faults or log
    // How many answers "hold" faults keep now (GET /_control/state), and letting them all go
    // (POST /_control/release); release returns how many there were.
    int held();
    int release();

    // One control request; throws unless the answer is 2xx; returns the parsed body (null if empty).
    boost::json::value control(std::string const& method, std::string const& path, std::string const& body = {});

private:
    void drain_output();

    std::unique_ptr<child_process> process_;
    std::string url_;
    std::string access_key_;
    std::string secret_key_;
    boost::asio::io_context context_;
    std::unique_ptr<https_client> client_;
};

}  // namespace rancher_ecr::testing
