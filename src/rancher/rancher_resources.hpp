#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include "error.hpp"

namespace rancher_ecr {

// The Rancher 1.x (Cattle) payloads and the decisions about them (spec rancher.md Part 1), free
// of I/O so that tests drive them with plain strings. rancher_client moves the bytes.

// Sent as `email` with every credential: /v1 and Rancher 1.2 to 1.5.3 require a non-empty one,
// later versions ignore it (§1.7). The value the original rancher-ecr-credentials sends.
inline constexpr std::string_view rancher_placeholder_email = "not-really@required.anymore";

struct rancher_registry {
    std::string id;              // "1sp12"
    std::string state;           // "active", "registering", ...
    std::string server_address;  // as stored: may carry a scheme, a path, upper case
    std::string self_link;       // links.self, an absolute URL
};

struct rancher_credential {
    std::string id;           // "1c34"
    std::string state;
    std::string registry_id;  // "1sp12"
    std::string self_link;
    // Gone or going (is_removed_row). Only a single resource (a GET by id, an action's answer)
    // can say so: pages leave such rows out.
    bool removed = false;
};

// A Rancher 1.x environment (a `project` row of GET /v2-beta/projects, seen with an account key).
struct rancher_environment {
    std::string id;    // "1a5"
    std::string name;  // "Default"; may be empty
};

// One page of a collection: its live rows (removed ones are left out, see is_removed_row) and
// the absolute URL of the next page, if any.
template <class T>
struct rancher_page {
    std::vector<T> items;
    std::size_t removed_rows = 0;  // how many rows were left out as removed
    std::optional<std::string> next;
};

// The collection URLs found by schema discovery (absolute, as Rancher wrote them).
struct rancher_collections {
    std::string registries;
    std::string credentials;
};

// Whether a row is gone or going: `removed` is set (not null), or the state is removing, removed,
// purging or purged. Older servers listed such rows for 300 s after removal (§1.3).
bool is_removed_row(std::string_view state, bool removed_is_set);

// Parse one page of GET <registries collection> / GET <credentials collection>: data[] with id,
// state, removed, serverAddress (registries) or registryId (credentials) and links.self, and
// pagination.next. A live row without an id or links.self, a field of the wrong type, or a body
// that is not a collection is a bad_response failure naming the row and field. Never throws.
result<rancher_page<rancher_registry>> parse_registry_page(std::string_view body);
result<rancher_page<rancher_credential>> parse_credential_page(std::string_view body);

// One page of GET /v2-beta/projects: the environments the key sees, removed ones left out.
result<rancher_page<rancher_environment>> parse_environment_page(std::string_view body);

// Parse the one resource that a POST (create) answers with. Same failures as the pages.
result<rancher_registry> parse_registry(std::string_view body);
result<rancher_credential> parse_credential(std::string_view body);

// The collection links of the `registry` and `registryCredential` schemas in a GET <schemas>
// answer. A schema missing (an account key without a project, a non-Cattle server) is a
// bad_response failure that says which.
result<rancher_collections> parse_schemas(std::string_view body);

// The registry host that a serverAddress names, for matching on the client side (§1.8): scheme,
// user info, path and trailing slashes dropped, lower case, host[:port]. A port stays part of the
// host and a default port is NOT dropped: Rancher matches an image's host[:port] against
// serverAddress as a string (§1.4) and docker keys credentials the same way, so a registry of
// "host:443" is never used for "host/repo" and is another registry. Empty when nothing is left.
std::string registry_host_of(std::string_view server_address);

// Whether `server_address` names `host` (both read by registry_host_of).
bool server_address_matches(std::string_view server_address, std::string_view host);

// The registry to write for `host` among live registries, or nullopt when none matches. Two can
// match ("host" and "https://HOST/" are different strings to the server); the one Rancher itself
// uses wins: a serverAddress equal to the bare host (ignoring case) first, then the active state,
// then the lowest id (the oldest).
std::optional<rancher_registry> select_registry(std::span<rancher_registry const> registries, std::string_view host);

// The credentials of `registry_id` among `credentials`, lowest id first (the one Rancher uses,
// §1.4). Filters on the client too: a server that ignored ?registryId= must not make us write
// into another registry's credentials. Every live state counts, inactive too: a PUT works on it
// (§1.5) and keeps it current should it be activated again.
std::vector<rancher_credential> credentials_of(std::span<rancher_credential const> credentials,
                                               std::string_view registry_id);

// Whether credential id `a` is older than `b`: Cattle numbers rows in the order it stores them
// ("1c9" before "1c12"), and Rancher pulls with the lowest-id active credential (§1.4).
bool older_credential(std::string_view a, std::string_view b);

// What a writer does with the live credentials of one registry. Several writers (replicas) may
// act on the same registry at once; they converge on exactly one credential by this rule:
//   - a registry without a live credential gets one (create; then list again and plan again);
//   - a writer removes only credentials it created itself (`ours`), and only those that are not
//     the oldest live credential of the registry (older_credential); the oldest is never removed;
//   - right after its create, a writer writes the password into the oldest credential only (when
//     the oldest is not its own new one, which holds the password already); otherwise it writes
//     into every live credential it does not remove.
// So of credentials created concurrently only the oldest stays, a credential someone else created
// (an operator, a replica before a restart) is never removed, and the survivor holds a fresh
// password. The argument and its one assumption are in README "What a refresh does".
struct registry_credential_plan {
    bool create = false;                     // no live credential: POST one
    std::vector<rancher_credential> write;   // PUT the user name and password, the oldest first
    std::vector<rancher_credential> remove;  // deactivate, then DELETE (ours, not the oldest)
};

// The plan for `registry_id` from its credentials as just listed (`listed`; other registries'
// rows are left out, as credentials_of does), the ids this writer created (`ours`), and the
// credential it has just created, if it has (`created`: counted live and ours even when the list
// missed it, and already holding the password).
registry_credential_plan plan_credential_writes(std::span<rancher_credential const> listed, std::string_view registry_id,
                                                std::span<std::string const> ours,
                                                std::optional<rancher_credential> const& created = std::nullopt);

// The next step in taking a credential out, from its state (§1.5 States): an active one is
// deactivated; from inactive, requested, registering or updating-* it is deleted; while a
// transition is under way (activating, deactivating, ...) wait and read it again; once it is
// removing, removed, purging or purged (or `removed` is set) it is done.
enum class removal_step { deactivate, remove, wait, done };
removal_step next_removal_step(std::string_view state, bool removed);

// {"publicValue":username,"secretValue":password,"email":placeholder} for PUT <links.self>.
std::string credential_update_body(std::string_view username, std::string_view password);
// The same with "registryId" for POST <credentials collection>.
std::string credential_create_body(std::string_view registry_id, std::string_view username,
                                   std::string_view password);
// {"serverAddress":host,"name":host} for POST <registries collection>; `host` must be bare.
std::string registry_create_body(std::string_view host);

// Whether a Rancher error answer can pass on a later try: 429 and 5xx can; 400, 401, 403, 404,
// 405, 422 need an operator or a different request. The one place where Rancher errors are
// classified (timeouts and broken connections are the transport's failures, retryable there).
bool is_retryable_rancher_error(int http_status);

// The failure when no registry matches `host` and none may be created: kind service, refused
// refusal::registry_not_found, naming the host and the API base `api`, and what the operator can do.
failure registry_not_found(std::string_view host, std::string_view api);

// Turns an error answer into a failure of kind service: Cattle's {"type":"error","status":..,
// "code":..,"fieldName":..,"message":..} (§1.6) or any other body (a proxy's HTML page: a short,
// sanitised excerpt). The message starts with `operation` (e.g. "Rancher PUT
// /v2-beta/registrycredentials/1c34"), then the status, code, field and message, and a hint for
// 401/403/404. `code` holds Rancher's code. Never quotes what we sent.
failure parse_rancher_error(int http_status, std::string_view body, std::string_view operation);
// The same without the hint: the part that Cattle's errors and norman's (whose `status` may be a
// string) share.
failure parse_rancher_error_answer(int http_status, std::string_view body, std::string_view operation);

// Where the values of one answer live while it is read into our own types: a block on the
// reader's stack, then blocks from the heap for a bigger answer, all freed at once when the arena
// goes. Values in it are never destroyed one by one (the resource is not shared), which would cost
// as much as parsing them.
struct answer_arena {
    unsigned char initial[4096];
    boost::json::monotonic_resource resource{initial, sizeof initial};
};

// The JSON object of an answer, its values in `arena` (which must outlive it); an empty body,
// invalid JSON or another value is a bad_response failure ("malformed Rancher <what>: ...").
result<boost::json::object> parse_rancher_object(std::string_view body, std::string_view what, answer_arena& arena);

}  // namespace rancher_ecr
