#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/http_transport.hpp"
#include "net/url.hpp"
#include "rancher/credential_writer.hpp"
#include "rancher/norman_resources.hpp"

namespace rancher_ecr {

// The Rancher 2.x place that a norman_writer writes to.
struct norman_place {
    std::string project;  // an id ("c-abcde:p-xyz12"), a name ("Default") or "cluster/project"
    std::vector<std::string> namespaces;         // none: project-scoped dockerCredentials
    std::optional<std::string> credential_name;  // RANCHER_CREDENTIAL_NAME
    bool auto_create = false;
};

// The Rancher 2.x writer (spec rancher.md Part 2): the tokens into the dockerCredentials of one
// project, or the namespacedDockerCredentials of each of its namespaces, through the norman v3
// API at `api` (".../v3") over `transport` (which must outlive it), with the Bearer key. At each
// write it finds the project (by id, name or cluster/project; none or several matching is a
// refusal that lists what matched), lists the credentials of each place (every page), and carries
// out plan_norman_writes: a PUT of the complete registries map per matching credential, a refusal
// for a credential that also holds a host without a fresh token (it is never written), a POST per
// credential to create (409 AlreadyExists: list again and update what a replica made; a 422 on the
// name names RANCHER_CREDENTIAL_NAME). Requests go to `api`'s origin only, whatever host links name.
class norman_writer final : public credential_writer {
public:
    norman_writer(http_transport& transport, url api, std::string access_key, std::string secret_key,
                  norman_place place);

    boost::asio::awaitable<write_report> write(std::span<ecr_authorization const> tokens) override;

private:
    boost::asio::awaitable<result<http_response>> exchange(std::string method, url const& target, std::string body);
    // GET that turns a non-2xx answer into the Rancher error.
    boost::asio::awaitable<result<http_response>> get(url const& target);
    boost::asio::awaitable<result<norman_project>> find_project();
    boost::asio::awaitable<result<std::vector<norman_credential>>> list_credentials(
        norman_project const& project, std::optional<std::string> const& namespace_name);
    // Writes the tokens into one place; fills `entries` (one per token, in order).
    boost::asio::awaitable<void> write_place(norman_project const& project,
                                             std::optional<std::string> const& namespace_name,
                                             std::span<ecr_authorization const> tokens,
                                             std::vector<host_write>& entries);
    std::string place_name(norman_project const& project, std::optional<std::string> const& namespace_name) const;
    result<url> link(std::string_view text) const;

    http_transport& transport_;
    url api_;
    std::string access_key_;
    std::string secret_key_;
    norman_place place_;
};

}  // namespace rancher_ecr
