#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "error.hpp"

namespace rancher_ecr {

// The Rancher 2.x (norman v3) payloads and the decisions about them (spec rancher.md Part 2), free
// of I/O so that tests drive them with plain strings. norman_writer moves the bytes.

struct norman_project {
    std::string id;          // "c-abcde:p-xyz12"
    std::string name;        // "Default"
    std::string cluster_id;  // "c-abcde"
    std::string docker_credentials_link;             // links.dockerCredentials
    std::string namespaced_docker_credentials_link;  // links.namespacedDockerCredentials
};

struct norman_cluster {
    std::string id;
    std::string name;
};

// A dockerCredential or namespacedDockerCredential as listed: its passwords are never returned.
struct norman_credential {
    std::string id;    // "p-xyz12:ecr" or "apps:ecr"
    std::string name;  // "ecr"
    std::optional<std::string> namespace_id;  // null for project-scoped credentials
    std::vector<std::string> registries;      // the keys of its registries map, as stored
    std::string update_link;                  // links.update, else links.self
};

template <class T>
struct norman_page {
    std::vector<T> items;
    std::optional<std::string> next;  // pagination.next
};

// GET /v3/projects[?...] and GET /v3/projects/<id>. A row without id, name or the credential
// links, a field of the wrong type, or a body that is not a collection (resource) is a
// bad_response failure naming the row and field. Never throws.
result<norman_page<norman_project>> parse_project_page(std::string_view body);
result<norman_project> parse_project(std::string_view body);
result<norman_page<norman_cluster>> parse_cluster_page(std::string_view body);
// GET <dockerCredentials | namespacedDockerCredentials>, and the answer to a POST.
result<norman_page<norman_credential>> parse_docker_credential_page(std::string_view body);
result<norman_credential> parse_docker_credential(std::string_view body);

// Whether the answer to GET <origin>/v3 comes from Rancher 2.x: 200 with a collection (of
// schemas), or 401 with a norman error whose `status` is the string "401". Anything else (a 404,
// Cattle's 401 with an integer status) is not.
bool is_norman_discovery_answer(int http_status, std::string_view body);

// Whether `name` is a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', at most 253
// characters, starting and ending alphanumeric): what Rancher accepts as a credential name.
bool is_dns1123_subdomain(std::string_view name);
// Whether `name` is a DNS-1123 label (the same without '.', at most 63): a namespace name.
bool is_dns1123_label(std::string_view name);

// The name AUTO_CREATE gives the credential of `registry_host` without RANCHER_CREDENTIAL_NAME:
// "ecr-<account>-<region>" for an ECR host (<account>.dkr.ecr.<region>.amazonaws.com), else the
// host made into a DNS-1123 name ("ecr-" + its lower-case alphanumerics and dashes).
std::string default_credential_name(std::string_view registry_host);

// What a refresh does with the credentials of one place (the project's, or one namespace's), given
// the hosts it has fresh tokens for.
struct norman_plan {
    // PUT the complete registries map: every host of the credential, each with its fresh token.
    struct update {
        norman_credential credential;
        std::vector<std::string> hosts;  // bare hosts (registry_host_of its keys), each fresh
    };
    // Left alone: it also holds `foreign_host`, which has no fresh token (docker.io, another
    // registry); writing it would erase that password. Its fresh hosts fail.
    struct mixed_credential {
        norman_credential credential;
        std::string foreign_host;
        std::vector<std::string> hosts;  // the fresh hosts it holds
    };
    // POST a credential named `name` holding `hosts`.
    struct create {
        std::string name;
        std::vector<std::string> hosts;
    };
    std::vector<update> updates;
    std::vector<mixed_credential> left_alone;
    std::vector<create> creates;
    std::vector<std::string> missing;  // fresh hosts no credential holds, none to be created
};

// The plan for `listed` (the credentials of one place) and the fresh hosts (bare, lower case). A
// credential matches when one of its registries keys names a fresh host (registry_host_of: scheme,
// path, trailing slash and case ignored). Every matching credential is updated, unless it also
// holds another host: then it is refused. A fresh host that no credential holds is created when
// `auto_create` (one credential named `credential_name` for all such hosts when it is given, else
// one per host named default_credential_name), else it is missing. A host that a refused
// credential holds is never created elsewhere.
norman_plan plan_norman_writes(std::span<norman_credential const> listed, std::span<std::string const> fresh_hosts,
                               bool auto_create, std::optional<std::string> const& credential_name);

// {"registries":{host:{"username":..,"password":..},...}} for PUT <links.update>: the complete map.
std::string docker_credential_update_body(std::span<std::pair<std::string, std::string> const> host_passwords,
                                          std::string_view username);
// The same with "type" (dockerCredential, or namespacedDockerCredential with "namespaceId"),
// "name", for POST <collection>.
std::string docker_credential_create_body(std::string_view name, std::optional<std::string> const& namespace_id,
                                          std::span<std::pair<std::string, std::string> const> host_passwords,
                                          std::string_view username);

// Turns a norman error answer ({"type":"error","status":404 or "401","code":..,"fieldName":..,
// "message":..}, §2.5) or any other body into a failure of kind service, as parse_rancher_error
// does for Cattle (retryable per is_retryable_rancher_error), with hints for 2.x: 401 the API
// key, 403 its permissions in the project, 404 CATTLE_URL and RANCHER_PROJECT, 503 the cluster.
failure parse_norman_error(int http_status, std::string_view body, std::string_view operation);

}  // namespace rancher_ecr
