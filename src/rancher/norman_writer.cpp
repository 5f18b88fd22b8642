#include "rancher/norman_writer.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "net/coroutine_warning.hpp"
#include "obs/logging.hpp"
#include "rancher/rancher_api.hpp"
#include "rancher/rancher_paging.hpp"
#include "rancher/rancher_resources.hpp"
#include "rancher/rancher_url.hpp"


namespace rancher_ecr {

namespace asio = boost::asio;

namespace {

// Creating, then finding that a replica created the same name first (409): list again this often.
constexpr int max_rounds = 3;

failure refused(refusal why, std::string message) {
    failure out = make_failure(failure_kind::service, std::move(message));
    out.refused = why;
    return out;
}

std::string joined(std::vector<std::string> const& items) {
    std::string text;
    for (auto const& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
}

// The part of `plan` that touches a host of `pending`: the updates and left-alone credentials that
// hold one, the creates and the missing cut down to them.
norman_plan only_pending(norman_plan plan, std::vector<std::string> const& pending) {
    auto is_pending = [&](std::string const& host) { return std::ranges::find(pending, host) != pending.end(); };
    auto touches_none = [&](auto const& entry) { return std::ranges::none_of(entry.hosts, is_pending); };
    std::erase_if(plan.updates, touches_none);
    std::erase_if(plan.left_alone, touches_none);
    for (auto& create : plan.creates) std::erase_if(create.hosts, [&](auto const& host) { return !is_pending(host); });
    std::erase_if(plan.creates, [](auto const& create) { return create.hosts.empty(); });
    std::erase_if(plan.missing, [&](auto const& host) { return !is_pending(host); });
    return plan;
}

}  // namespace

norman_writer::norman_writer(http_transport& transport, url api, std::string access_key, std::string secret_key,
                             norman_place place)
    : transport_{transport},
      api_{std::move(api)},
      access_key_{std::move(access_key)},
      secret_key_{std::move(secret_key)},
      place_{std::move(place)} {}

asio::awaitable<result<http_response>> norman_writer::exchange(std::string method, url const& target,
                                                               std::string body) {
    auto request = rancher_request(method, target, bearer_authorization(access_key_, secret_key_), std::move(body));
    spdlog::trace("Rancher: {} {}", method, target.text());
    auto response = co_await transport_.send(target, std::move(request));
    if (!response) co_return in_operation(response.error(), operation_of(method, target));
    spdlog::trace("Rancher: {} {} answered HTTP {}", method, target.target, response->status);
    co_return response;
}

asio::awaitable<result<http_response>> norman_writer::get(url const& target) {
    auto response = co_await exchange("GET", target, {});
    if (response && !succeeded(*response))
        co_return parse_norman_error(response->status, response->body, operation_of("GET", target));
    co_return response;
}

result<url> norman_writer::link(std::string_view text) const { return resolve_rancher_link(api_, text); }

asio::awaitable<result<norman_project>> norman_writer::find_project() {
    auto get_one = [this](url const& page) { return get(page); };
    auto const& wanted = place_.project;
    auto at = [&](std::string path) {
        url target = api_;
        target.target = api_.target + path;
        return target;
    };
    if (wanted.find(':') != std::string::npos) {  // an id: c-abcde:p-xyz12
        auto target = at("/projects/" + wanted);  // ids are [a-z0-9-:] (checked by load_config)
        auto response = co_await exchange("GET", target, {});
        if (!response) co_return response.error();
        if (response->status == 404)
            co_return refused(refusal::project_not_found, "no Rancher project " + wanted + " at " + api_.origin() +
                                                              " (or the API key cannot see it); check RANCHER_PROJECT");
        if (!succeeded(*response))
            co_return parse_norman_error(response->status, response->body, operation_of("GET", target));
        auto project = parse_project(response->body);
        if (!project) co_return in_operation(project.error(), operation_of("GET", target), response->status);
        co_return std::move(*project);
    }

    // A name, or cluster/project: list what matches; the clusters' names only when they are needed
    // (cluster/project, or a message that lists the matches).
    auto const slash = wanted.find('/');
    auto const project_name = slash == std::string::npos ? wanted : wanted.substr(slash + 1);
    auto const projects_named = at(with_query_parameter("/projects", "name", project_name));
    auto projects = co_await list_every_page(get_one, api_, projects_named, parse_project_page);
    if (!projects) co_return projects.error();
    std::erase_if(*projects, [&](auto const& project) { return project.name != project_name; });  // filter ignored?
    if (slash == std::string::npos && projects->size() == 1) co_return std::move(projects->front());
    auto clusters = co_await list_every_page(get_one, api_, at("/clusters"), parse_cluster_page);
    if (!clusters) co_return clusters.error();
    auto cluster_name = [&](std::string const& id) {
        auto found = std::ranges::find(*clusters, id, &norman_cluster::id);
        return found == clusters->end() ? id : found->name;
    };
    std::vector<norman_project> matching;
    for (auto& project : *projects) {
        if (slash != std::string::npos && cluster_name(project.cluster_id) != wanted.substr(0, slash)) continue;
        matching.push_back(std::move(project));
    }
    if (matching.size() == 1) co_return std::move(matching.front());
    std::vector<std::string> described;
    for (auto const& project : matching)
        described.push_back(project.id + " in cluster " + cluster_name(project.cluster_id));
    if (matching.empty())
        co_return refused(refusal::project_not_found,
                          "no Rancher project named " + wanted + " at " + api_.origin() +
                              " (or the API key cannot see it); set RANCHER_PROJECT to a project's id, name or "
                              "cluster/project");
    co_return refused(refusal::project_ambiguous, std::to_string(matching.size()) + " Rancher projects are named " +
                                                      wanted + " (" + joined(described) +
                                                      "); set RANCHER_PROJECT to the id or to cluster/project");
}

asio::awaitable<result<std::vector<norman_credential>>> norman_writer::list_credentials(
    norman_project const& project, std::optional<std::string> const& namespace_name) {
    auto collection =
        link(namespace_name ? project.namespaced_docker_credentials_link : project.docker_credentials_link);
    if (!collection) co_return collection.error();
    if (namespace_name) collection->target = with_query_parameter(collection->target, "namespaceId", *namespace_name);
    auto get_one = [this](url const& page) { return get(page); };
    auto listed = co_await list_every_page(get_one, api_, std::move(*collection), parse_docker_credential_page);
    if (!listed) co_return listed.error();
    // Filtered on the client too: a write must never land in another namespace's credential.
    std::erase_if(*listed, [&](norman_credential const& credential) { return credential.namespace_id != namespace_name; });
    co_return listed;
}

std::string norman_writer::place_name(norman_project const& project,
                                      std::optional<std::string> const& namespace_name) const {
    return "project " + project.id + (namespace_name ? ", namespace " + *namespace_name : "");
}

asio::awaitable<void> norman_writer::write_place(norman_project const& project,
                                                 std::optional<std::string> const& namespace_name,
                                                 std::span<ecr_authorization const> tokens,
                                                 std::vector<host_write>& entries) {
    auto const where = place_name(project, namespace_name);
    auto const first_entry = entries.size();
    std::map<std::string, std::size_t> token_of;  // bare host -> index in tokens (and from first_entry)
    std::vector<std::string> fresh_hosts;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        auto host = registry_host_of(tokens[i].registry_host);
        entries.push_back(host_write{tokens[i].registry_host, {}, namespace_name, std::nullopt});
        if (token_of.emplace(host, i).second) fresh_hosts.push_back(std::move(host));
    }
    auto entry_of = [&](std::string const& host) -> host_write& { return entries[first_entry + token_of.at(host)]; };
    auto password_of = [&](std::string const& host) -> ecr_authorization const& { return tokens[token_of.at(host)]; };
    auto fail = [&](std::vector<std::string> const& hosts, failure const& problem, std::string const& credential) {
        for (auto const& host : hosts) {
            auto& entry = entry_of(host);
            entry.problem = problem;
            entry.credential = credential;
        }
    };
    auto bodies = [&](std::vector<std::string> const& hosts) {
        std::vector<std::pair<std::string, std::string>> out;
        for (auto const& host : hosts) out.emplace_back(host, password_of(host).password);
        return out;
    };
    auto earliest_expiry = [&](std::vector<std::string> const& hosts) {
        auto earliest = password_of(hosts.front()).expires_at;
        for (auto const& host : hosts) earliest = std::min(earliest, password_of(host).expires_at);
        return format_utc(earliest);
    };

    std::vector<std::string> pending = fresh_hosts;  // not yet written, refused or failed
    for (int round = 0; round < max_rounds && !pending.empty(); ++round) {
        auto listed = co_await list_credentials(project, namespace_name);
        if (!listed) {
            spdlog::error("listing the docker credentials of Rancher {} failed: {}", where, describe(listed.error()));
            fail(pending, listed.error(), {});
            co_return;
        }
        // Every fresh host counts for what a credential holds (a credential a replica created may
        // also hold a host written in an earlier round), but only what is pending is acted on. A
        // replica's create (409) is updated in the next round; never create in the last.
        auto plan = only_pending(plan_norman_writes(*listed, fresh_hosts,
                                                    place_.auto_create && round + 1 < max_rounds,
                                                    place_.credential_name),
                                 pending);
        pending.clear();
        for (auto const& update : plan.updates) {
            auto target = link(update.credential.update_link);
            auto const operation = "Rancher PUT " + (target ? target->target : update.credential.update_link);
            result<http_response> answer = target.error();
            if (target)
                answer = co_await exchange("PUT", *target, docker_credential_update_body(bodies(update.hosts), "AWS"));
            std::optional<failure> problem;
            if (!answer) problem = answer.error();
            else if (!succeeded(*answer)) problem = parse_norman_error(answer->status, answer->body, operation);
            if (problem) {
                if (answer && answer->status == 404) problem->retryable = true;  // removed meanwhile: list again later
                spdlog::error("writing credential {} in Rancher {} failed: {}", update.credential.name, where,
                              describe(*problem));
                fail(update.hosts, *problem, update.credential.name);
                continue;
            }
            for (auto const& host : update.hosts) entry_of(host).credential = update.credential.name;
            spdlog::info("Rancher {}: credential {} written ({}), token expires at {}", where, update.credential.name,
                         joined(update.hosts), earliest_expiry(update.hosts));
        }
        for (auto const& kept_out : plan.left_alone) {
            auto problem = refused(refusal::foreign_host,
                                   "credential " + kept_out.credential.name + " in Rancher " + where +
                                       " also holds " + kept_out.foreign_host +
                                       ", whose password this service does not have: it is left untouched, since "
                                       "writing it would erase that password; keep the ECR hosts (" +
                                       joined(kept_out.hosts) + ") in a credential of their own");
            spdlog::error("{}", problem.message);
            fail(kept_out.hosts, problem, kept_out.credential.name);
        }
        if (!plan.missing.empty()) {
            auto problem = refused(refusal::registry_not_found,
                                   "no docker credential in Rancher " + where + " holds " + joined(plan.missing) +
                                       "; add one holding " + (plan.missing.size() == 1 ? "it" : "them") +
                                       ", or set AUTO_CREATE=true");
            spdlog::error("{}", problem.message);
            fail(plan.missing, problem, {});
        }
        for (auto const& create : plan.creates) {
            auto collection =
                link(namespace_name ? project.namespaced_docker_credentials_link : project.docker_credentials_link);
            if (!collection) {
                fail(create.hosts, collection.error(), create.name);
                continue;
            }
            auto const operation = operation_of("POST", *collection);
            auto answer = co_await exchange(
                "POST", *collection,
                docker_credential_create_body(create.name, namespace_name, bodies(create.hosts), "AWS"));
            if (answer && answer->status == 409) {
                // A replica (or someone) made it first: list again and update it.
                spdlog::debug("Rancher {}: credential {} exists already (409); listing again", where, create.name);
                pending.insert(pending.end(), create.hosts.begin(), create.hosts.end());
                continue;
            }
            std::optional<failure> problem;
            if (!answer) problem = answer.error();
            else if (!succeeded(*answer)) problem = parse_norman_error(answer->status, answer->body, operation);
            if (problem) {
                if (problem->http_status == 422 && problem->message.find(", field name") != std::string::npos)
                    problem->message += "; check RANCHER_CREDENTIAL_NAME (a DNS-1123 name)";
                spdlog::error("creating credential {} in Rancher {} failed: {}", create.name, where, describe(*problem));
                fail(create.hosts, *problem, create.name);
                continue;
            }
            for (auto const& host : create.hosts) entry_of(host).credential = create.name;
            spdlog::info("Rancher {}: credential {} created ({}), token expires at {}", where, create.name,
                         joined(create.hosts), earliest_expiry(create.hosts));
        }
    }
    if (!pending.empty()) {
        // Rancher said it exists (409) yet does not list it: it shows up, or is gone, by the retry.
        auto problem = make_failure(failure_kind::service, "the credential of " + joined(pending) + " in Rancher " +
                                                               where + " exists (HTTP 409) but is not listed");
        problem.retryable = true;
        fail(pending, problem, {});
    }
}

asio::awaitable<write_report> norman_writer::write(std::span<ecr_authorization const> tokens) {
    write_report report;
    // Not `cond ? ... : co_await ...`: GCC 12 destroys the result of such an initialization at once.
    result<norman_project> project = make_failure(
        failure_kind::config, "Rancher at " + api_.origin() +
                                  " speaks the 2.x API, which needs RANCHER_PROJECT: the project's id "
                                  "(c-abcde:p-xyz12), name (Default) or cluster/project (local/Default)");
    if (!place_.project.empty()) project = co_await find_project();
    if (!project) {
        spdlog::error("finding the Rancher project failed: {}", describe(project.error()));
        std::vector<std::optional<std::string>> places;
        if (place_.namespaces.empty()) places.emplace_back();
        for (auto const& name : place_.namespaces) places.emplace_back(name);
        for (auto const& place : places)
            for (auto const& token : tokens)
                report.hosts.push_back(host_write{token.registry_host, {}, place, project.error()});
        co_return report;
    }
    spdlog::debug("Rancher project {} ({}) in cluster {}", project->id, project->name, project->cluster_id);
    if (place_.namespaces.empty()) {
        co_await write_place(*project, std::nullopt, tokens, report.hosts);
    } else {
        for (auto const& name : place_.namespaces) co_await write_place(*project, name, tokens, report.hosts);
    }
    co_return report;
}

}  // namespace rancher_ecr
