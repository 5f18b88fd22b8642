#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "net/https_client.hpp"
#include "support/child_process.hpp"

namespace rancher_ecr::testing {

// What the Rancher stand-ins (rancher_stand_in, rancher2_stand_in) share: their Python script on a
// free port, started with child_process, which first prints one JSON line describing itself
// ({"url", "access_key", "secret_key", ...}), and a plain HTTP client for its control API
// (/_control/...). Stops when this object goes. Not thread-safe.
class stand_in_process {
public:
    stand_in_process(stand_in_process const&) = delete;
    stand_in_process& operator=(stand_in_process const&) = delete;

    std::string const& url() const { return url_; }  // http://127.0.0.1:PORT
    std::string const& access_key() const { return access_key_; }
    std::string const& secret_key() const { return secret_key_; }

    // GET /_control/state.
    boost::json::object state();

    // POST /_control/faults: `fault` as the stand-in takes it, e.g.
    // {"match":{"method":"PUT","path_contains":"credentials"},"fault":"status","status":503,"times":1}.
    void add_fault(boost::json::object fault);
    void clear_faults();  // DELETE /_control/faults
    void reset();         // POST /_control/reset: no faults or log, and the stand-in's own start state
    // How many answers "hold" faults keep now (GET /_control/state), and letting them all go
    // (POST /_control/release); release returns how many there were.
    int held();
    int release();

    // One control request; throws unless the answer is 2xx; returns the parsed body (null if empty).
    boost::json::value control(std::string const& method, std::string const& path, std::string const& body = {});

protected:
    // Starts tests/support/`script` with `arguments` added; throws (failing the test) when it does
    // not come up. `name` ("Rancher stand-in") names it in what it throws.
    stand_in_process(std::string name, std::string const& script, std::vector<std::string> const& arguments);
    ~stand_in_process();

    // The line the script printed first.
    boost::json::object const& description() const { return description_; }
    // The string `name` of `object`, and the objects of the array `name` of `state`; both throw
    // when there is none.
    std::string text_of(boost::json::object const& object, std::string_view name) const;
    std::vector<boost::json::object> objects_in(boost::json::object const& state, std::string_view name) const;
    // The one of `rows` whose "id" is `id`; throws, naming it a `kind` ("credential"), when there is none.
    boost::json::object with_id(std::vector<boost::json::object> rows, std::string const& id,
                                std::string_view kind) const;

private:
    void drain_output();

    std::string name_;
    std::unique_ptr<child_process> process_;
    boost::json::object description_;
    std::string url_;
    std::string access_key_;
    std::string secret_key_;
    boost::asio::io_context context_;
    std::unique_ptr<https_client> client_;
};

}  // namespace rancher_ecr::testing
