#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "net/https_client.hpp"
#include "support/child_process.hpp"

namespace rancher_ecr::testing {

// The Rancher 1.x stand-in (tests/support/rancher_stand_in.py) on a free port, and a plain HTTP
// client for its control API (/_control/...). Stops when this object goes. Not thread-safe.
class rancher_stand_in {
public:
    // Starts the script with `arguments` added; throws (failing the test) when it does not come up.
    explicit rancher_stand_in(std::vector<std::string> const& arguments = {});
    ~rancher_stand_in();
    rancher_stand_in(rancher_stand_in const&) = delete;
    rancher_stand_in& operator=(rancher_stand_in const&) = delete;

    std::string const& url() const { return url_; }  // http://127.0.0.1:PORT
    std::string const& access_key() const { return access_key_; }
    std::string const& secret_key() const { return secret_key_; }
    std::string const& project() const { return project_; }  // "1a5"

    // Seeds a registry or a credential; returns its id ("1sp12", "1c34"). `removed` sets the
    // removed timestamp.
    std::string add_registry(std::string const& server_address, std::string const& state = "active",
                             bool removed = false);
    std::string add_credential(std::string const& registry_id, std::string const& public_value,
                               std::string const& secret_value, std::string const& state = "active",
                               bool removed = false);

    // GET /_control/state: every registry and credential (secretValue included) and the request log.
    boost::json::object state();
    // The stored registry / credential with this id (throws if there is none).
    boost::json::object registry(std::string const& id);
    boost::json::object credential(std::string const& id);
    // Every stored credential of `registry_id`, removed ones included.
    std::vector<boost::json::object> credentials_of(std::string const& registry_id);
    std::vector<boost::json::object> registries();

    // POST /_control/faults: `fault` as the stand-in takes it, e.g.
    // {"match":{"method":"PUT","path_contains":"/registrycredentials"},"fault":"status","status":503,"times":1}.
    void add_fault(boost::json::object fault);
    void clear_faults();  // DELETE /_control/faults
    void reset();         // POST /_control/reset: no registries, credentials, faults or log
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
    std::string project_;
    boost::asio::io_context context_;
    std::unique_ptr<https_client> client_;
};

}  // namespace rancher_ecr::testing
