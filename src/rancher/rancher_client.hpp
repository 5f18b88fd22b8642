#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "error.hpp"
#include "net/http_message.hpp"
#include "net/http_transport.hpp"
#include "net/url.hpp"
#include "rancher/rancher_resources.hpp"

namespace rancher_ecr {

class fifo_turns;

// What discovery found in one environment of a Rancher 1.x server, for the clients of its other
// environments through the same key. Cattle serves every environment's registries and credentials
// at the same paths below the environment's own (".../projects/1a5/registries",
// ".../projects/1a7/registries"), so a key that writes to a thousand environments discovers once
// rather than a thousand times; each discovery reads the whole schemas collection, which on a real
// server is large. One client discovers at a time: those waiting derive theirs from what it found,
// or, when the server did not answer it at all, take that failure instead of waiting in turn for
// the same timeout each.
class cattle_discovery {
public:
    explicit cattle_discovery(boost::asio::any_io_executor executor);
    ~cattle_discovery();
    cattle_discovery(cattle_discovery const&) = delete;
    cattle_discovery& operator=(cattle_discovery const&) = delete;

    // Whether a client has found collections below its environment's path yet.
    bool found() const { return below_environment_.has_value(); }

private:
    friend class rancher_client;
    struct collection_paths {
        std::string registries;   // "/registries"
        std::string credentials;  // "/registrycredentials"
    };
    std::unique_ptr<fifo_turns> turn_;
    std::optional<collection_paths> below_environment_;
    std::uint64_t attempts_ = 0;            // discoveries finished, found or failed
    std::optional<failure> unanswered_;     // the last one's, when the server did not answer it
};

// What to write into the Rancher credential of one registry.
struct registry_login {
    std::string registry_host;  // host[:port]
    std::string username;
    std::string password;
};

// What one write_registry_credential did.
struct rancher_write_report {
    std::string registry_id;
    int credentials_updated = 0;
    int credentials_created = 0;
    int credentials_removed = 0;  // duplicates this client had created (see plan_credential_writes)
    bool registry_created = false;
};

// Writes registry credentials into a Rancher 1.x environment through its v2-beta API (spec
// rancher.md Part 1) over `transport`, which must outlive it. Authenticates with HTTP Basic and
// the key pair; the secret key and the passwords never appear in a message or a log line.
// Requests go to CATTLE_URL's origin only, whatever host Rancher's links name.
class rancher_client {
public:
    // `cattle_url` is normalised here (normalise_cattle_url); a URL it refuses makes every call
    // fail with that config failure. Clients of several environments of one server and key may
    // share a `discovery`.
    rancher_client(http_transport& transport, url cattle_url, std::string access_key, std::string secret_key,
                   std::shared_ptr<cattle_discovery> discovery = nullptr);

    // Writes username/password into every live credential of the registry whose server address
    // matches `registry_host` (host[:port], see select_registry); creates a credential when the
    // registry has none; with `auto_create`, creates the registry (serverAddress the bare host)
    // when none matches, and lists again when Rancher answers 400 ServerAddressUsed (it appeared
    // meanwhile). Never writes to another host's registry, never creates a second registry for a
    // host, never writes an empty password (a bad_response failure before any request).
    // Concurrent writers (replicas) converge on one credential per registry as
    // plan_credential_writes decides: after creating one, the client lists again and, when an
    // older live credential exists, writes the password into the oldest and removes its own
    // (deactivate, then DELETE, following the states: next_removal_step). It removes only
    // credentials it created itself, and remembers them, so a duplicate left by a failed check is
    // removed at a later call. A credential that disappears while being written (its creator
    // removed it) is skipped, not a failure, as long as the password went into another one.
    // Completes with what was done, or with the first failure: the transport's, a Rancher error
    // (kind service: status, code, fieldName; retryable per is_retryable_rancher_error), a
    // malformed answer (kind bad_response), or refusal::registry_not_found naming the host when no
    // registry matches and !auto_create. Discovery runs on the first call and is kept; once
    // another client sharing `discovery` has found the collections, this client takes those below
    // its own path instead, until a write through them is answered 404 (then it discovers its own
    // at the next call).
    boost::asio::awaitable<result<rancher_write_report>> write_registry_credential(std::string registry_host,
                                                                                   std::string username,
                                                                                   std::string password,
                                                                                   bool auto_create);

    // write_registry_credential for each login in turn, the registries listed once for all of
    // them (a failure to discover or list them is each login's): one result per login, in order.
    boost::asio::awaitable<std::vector<result<rancher_write_report>>> write_registry_credentials(
        std::vector<registry_login> logins, bool auto_create);

    // The normalised API base.
    url const& base() const { return base_; }

private:
    struct collection_urls {
        url registries;
        url credentials;
    };

    boost::asio::awaitable<result<http_response>> exchange(std::string method, url const& target, std::string body);
    // GET that turns a non-2xx answer into the Rancher error.
    boost::asio::awaitable<result<http_response>> get(url const& target);
    // The collections: kept, derived from a shared discovery, or discovered here.
    boost::asio::awaitable<result<collection_urls>> discover();
    // GET <base> and the schemas it names (spec §1.1).
    boost::asio::awaitable<result<collection_urls>> discover_here();
    boost::asio::awaitable<result<std::vector<rancher_registry>>> list_registries(url const& collection);
    boost::asio::awaitable<result<std::vector<rancher_credential>>> list_credentials(url const& collection,
                                                                                     std::string const& registry_id);
    boost::asio::awaitable<result<std::optional<rancher_registry>>> find_registry(url const& collection,
                                                                                  std::string const& host);
    // The chosen one of `registries` for `host` (select_registry), logged.
    static std::optional<rancher_registry> choose_registry(std::vector<rancher_registry> const& registries,
                                                           std::string const& host);
    // One login, into the registry chosen for `host` among `registries` (listed for the whole write).
    boost::asio::awaitable<result<rancher_write_report>> write(std::string const& host, std::string const& username,
                                                               std::string const& password, bool auto_create,
                                                               collection_urls const& collections,
                                                               std::vector<rancher_registry> const& registries);
    // After a failure: a 404 through collections derived from a shared discovery means they do
    // not hold here, so the next write discovers this environment's own.
    void forget_derived_collections_after(failure const& problem);
    // Lists the registry's credentials, creates one if it has none, and carries out the plan.
    boost::asio::awaitable<result<void>> write_credentials(url const& collection, std::string const& host,
                                                           std::string const& username, std::string const& password,
                                                           rancher_write_report& report);
    // GET <self>: the credential as it is now; 404 gives one with `removed` set.
    boost::asio::awaitable<result<rancher_credential>> read_credential(url const& self);
    // PUT username/password into `credential`: true when written, false when it was removed meanwhile.
    boost::asio::awaitable<result<bool>> put_credential(rancher_credential const& credential,
                                                        std::string const& username, std::string const& password);
    // Deactivates and DELETEs `credential`, step by step from its state (next_removal_step),
    // reading it again when a step is refused or a transition is under way; bounded.
    boost::asio::awaitable<result<void>> remove_credential(rancher_credential const& credential);
    // The ids of the live credentials this client created on `registry_id`.
    std::vector<std::string> ours_on(std::string const& registry_id) const;
    failure redacted(failure problem, std::string const& password) const;

    http_transport& transport_;
    url base_;
    std::optional<failure> base_problem_;
    std::string access_key_;
    std::string secret_key_;
    std::string authorization_;  // "Basic ..." of the key pair, built once: a secret too
    std::optional<collection_urls> collections_;
    std::shared_ptr<cattle_discovery> shared_discovery_;
    bool collections_derived_ = false;  // collections_ come from shared_discovery_
    // Credential id -> registry id, for each credential this client created and has not removed:
    // the only ones it may remove (plan_credential_writes). A few entries at most.
    std::map<std::string, std::string> created_credentials_;
};

}  // namespace rancher_ecr
