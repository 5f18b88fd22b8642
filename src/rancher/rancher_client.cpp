#include "rancher/rancher_client.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <iterator>
#include <set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "net/coroutine_warning.hpp"
#include "net/fifo_turns.hpp"
#include "rancher/rancher_api.hpp"
#include "rancher/rancher_paging.hpp"
#include "rancher/rancher_url.hpp"


namespace rancher_ecr {

namespace asio = boost::asio;

namespace {

// Taking a credential out: at most this many steps (an action, a DELETE, a pause) and this pause
// while a transition is under way, so about 2 s of waiting in all.
constexpr int max_removal_steps = 20;
constexpr std::chrono::milliseconds removal_pause{100};

void replace_all(std::string& text, std::string const& secret) {
    // A short "secret" would mangle ordinary words; real keys and ECR tokens are long.
    if (secret.size() < 8) return;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
        text.replace(at, secret.size(), "***");
}

// Whether the server never answered: it was out of reach, or went silent. Such a failure holds for
// every environment behind the same origin; an answer (401, 404, a bad body) may be this
// environment's alone.
bool went_unanswered(failure const& failed) {
    switch (failed.kind) {
        case failure_kind::resolve:
        case failure_kind::connect:
        case failure_kind::tls:
        case failure_kind::proxy:
        case failure_kind::timeout:
        case failure_kind::transport:
            return true;
        case failure_kind::config:
        case failure_kind::bad_response:
        case failure_kind::service:
            return false;
    }
    return false;
}

}  // namespace

cattle_discovery::cattle_discovery(asio::any_io_executor executor)
    : turn_{std::make_unique<fifo_turns>(std::move(executor), 1)} {}

cattle_discovery::~cattle_discovery() = default;

rancher_client::rancher_client(http_transport& transport, url cattle_url, std::string access_key,
                               std::string secret_key, std::shared_ptr<cattle_discovery> discovery)
    : transport_{transport},
      access_key_{std::move(access_key)},
      secret_key_{std::move(secret_key)},
      authorization_{basic_authorization(access_key_, secret_key_)},
      shared_discovery_{std::move(discovery)} {
    auto normalised = normalise_cattle_url(cattle_url);
    if (normalised) {
        base_ = std::move(*normalised);
    } else {
        base_ = std::move(cattle_url);
        base_problem_ = normalised.error();
    }
}

asio::awaitable<result<rancher_write_report>> rancher_client::write_registry_credential(std::string registry_host,
                                                                                        std::string username,
                                                                                        std::string password,
                                                                                        bool auto_create) {
    std::vector<registry_login> one;
    one.push_back(registry_login{std::move(registry_host), std::move(username), std::move(password)});
    auto written = co_await write_registry_credentials(std::move(one), auto_create);
    co_return std::move(written.front());
}

asio::awaitable<std::vector<result<rancher_write_report>>> rancher_client::write_registry_credentials(
    std::vector<registry_login> logins, bool auto_create) {
    std::vector<result<rancher_write_report>> written;
    written.reserve(logins.size());
    // Discovery's or the listing's failure, which is every login's.
    std::optional<failure> unlisted = base_problem_;
    std::optional<collection_urls> collections;
    std::vector<rancher_registry> registries;
    for (auto const& login : logins) {
        auto const host = registry_host_of(login.registry_host);
        if (host.empty()) {
            written.emplace_back(make_failure(failure_kind::config, "no registry host to write a Rancher credential for"));
            continue;
        }
        // An empty password would lock every node out of the registry until the next refresh.
        if (login.password.empty() || login.username.empty()) {
            written.emplace_back(make_failure(failure_kind::bad_response,
                                              "refusing to write an empty user name or password into the Rancher "
                                              "credential of " + host));
            continue;
        }
        if (!collections && !unlisted) {
            auto found = co_await discover();
            if (found) {
                auto listed = co_await list_registries(found->registries);
                if (listed) {
                    registries = std::move(*listed);
                } else {
                    unlisted = std::move(listed.error());
                    forget_derived_collections_after(*unlisted);
                }
                collections = std::move(*found);
            } else {
                unlisted = std::move(found.error());
            }
        }
        if (unlisted) {
            written.emplace_back(redacted(*unlisted, login.password));
            continue;
        }
        auto one = co_await write(host, login.username, login.password, auto_create, *collections, registries);
        if (!one) {
            forget_derived_collections_after(one.error());
            written.emplace_back(redacted(one.error(), login.password));
            continue;
        }
        written.push_back(std::move(one));
    }
    co_return written;
}

void rancher_client::forget_derived_collections_after(failure const& problem) {
    if (!collections_derived_ || problem.http_status != 404) return;
    // What another environment's discovery found does not hold here.
    spdlog::info("Rancher: {} answered 404 at the collections found for another environment; discovering its own at "
                 "the next write",
                 base_.text());
    collections_.reset();
    collections_derived_ = false;
    shared_discovery_.reset();
}

asio::awaitable<result<rancher_write_report>> rancher_client::write(std::string const& host,
                                                                    std::string const& username,
                                                                    std::string const& password, bool auto_create,
                                                                    collection_urls const& collections,
                                                                    std::vector<rancher_registry> const& registries) {
    rancher_write_report report;
    result<std::optional<rancher_registry>> registry = choose_registry(registries, host);
    if (!*registry) {
        if (!auto_create) co_return registry_not_found(host, base_.text());
        auto const operation = operation_of("POST", collections.registries);
        auto created = co_await exchange("POST", collections.registries, registry_create_body(host));
        if (!created) co_return created.error();
        if (succeeded(*created)) {
            auto parsed = parse_registry(created->body);
            if (!parsed) co_return in_operation(parsed.error(), operation, created->status);
            spdlog::debug("Rancher: created registry {} for {}", parsed->id, host);
            *registry = std::move(*parsed);
            report.registry_created = true;
        } else {
            auto problem = parse_rancher_error(created->status, created->body, operation);
            if (problem.code != "ServerAddressUsed") co_return problem;
            // Someone created it between our list and our POST: use theirs.
            spdlog::debug("Rancher: a registry for {} appeared meanwhile (ServerAddressUsed); listing again", host);
            registry = co_await find_registry(collections.registries, host);
            if (!registry) co_return registry.error();
            if (!*registry) {
                problem.message += "; yet no live registry for " + host + " is listed (being removed?)";
                problem.retryable = true;  // the removal completes, or the new one shows up
                co_return problem;
            }
        }
    }
    report.registry_id = (*registry)->id;
    auto written = co_await write_credentials(collections.credentials, host, username, password, report);
    if (!written) co_return written.error();
    co_return report;
}

asio::awaitable<result<void>> rancher_client::write_credentials(url const& collection, std::string const& host,
                                                                std::string const& username,
                                                                std::string const& password,
                                                                rancher_write_report& report) {
    auto const& registry_id = report.registry_id;
    auto listed = co_await list_credentials(collection, registry_id);
    if (!listed) co_return listed.error();
    auto const foreign = std::ranges::count_if(*listed, [&](auto const& c) { return c.registry_id != registry_id; });
    if (foreign > 0)
        spdlog::warn("Rancher: {} credentials listed for registry {} belong to other registries; left alone", foreign,
                     registry_id);
    // Forget what was removed behind our back: it is no longer ours to remove.
    std::erase_if(created_credentials_, [&](auto const& entry) {
        return entry.second == registry_id &&
               std::ranges::none_of(*listed, [&](auto const& c) { return c.id == entry.first; });
    });

    auto plan = plan_credential_writes(*listed, registry_id, ours_on(registry_id));
    std::optional<rancher_credential> created;
    if (plan.create) {
        auto const operation = operation_of("POST", collection);
        auto answer = co_await exchange("POST", collection, credential_create_body(registry_id, username, password));
        if (!answer) co_return answer.error();
        if (!succeeded(*answer)) co_return parse_rancher_error(answer->status, answer->body, operation);
        auto parsed = parse_credential(answer->body);
        if (!parsed) co_return in_operation(parsed.error(), operation, answer->status);
        if (parsed->id.empty())
            co_return make_failure(failure_kind::bad_response, operation + ": the created credential has no id");
        parsed->registry_id = registry_id;
        created_credentials_[parsed->id] = registry_id;
        report.credentials_created = 1;
        spdlog::debug("Rancher: created credential {} of registry {} ({})", parsed->id, registry_id, host);

        // Another writer (a replica) may have found no credential either and created one too: list
        // again and keep the oldest (plan_credential_writes). Should this fail, ours stays
        // remembered and a later write settles it.
        auto relisted = co_await list_credentials(collection, registry_id);
        if (!relisted) {
            auto problem = relisted.error();
            problem.message += " (listing again after creating credential " + parsed->id +
                               ", to find one created at the same time)";
            co_return problem;
        }
        created = std::move(*parsed);
        plan = plan_credential_writes(*relisted, registry_id, ours_on(registry_id), created);
    }

    bool oldest_written = true;
    for (std::size_t i = 0; i < plan.write.size(); ++i) {
        auto const& credential = plan.write[i];
        auto written = co_await put_credential(credential, username, password);
        if (!written) co_return written.error();
        if (!*written) {
            spdlog::info("Rancher: credential {} of registry {} ({}) was removed while being written; skipped",
                         credential.id, registry_id, host);
            if (i == 0) oldest_written = false;
            continue;
        }
        ++report.credentials_updated;
    }
    if (report.credentials_updated == 0 && !created) {
        auto problem = make_failure(failure_kind::service, "every credential of Rancher registry " + registry_id +
                                                               " (" + host + ") was removed while being written");
        problem.retryable = true;  // the next try lists again, and creates one if none is left
        co_return problem;
    }
    if (!oldest_written) {
        // The one to keep is gone (someone removed it): keep ours too, a later write decides again.
        if (!plan.remove.empty())
            spdlog::warn("Rancher: credential {} of registry {} ({}) vanished; keeping {} credentials of ours for now",
                         plan.write.front().id, registry_id, host, plan.remove.size());
        co_return result<void>{};
    }
    for (auto const& credential : plan.remove) {
        auto removed = co_await remove_credential(credential);
        if (!removed) co_return removed.error();  // still remembered: a later write tries again
        created_credentials_.erase(credential.id);
        ++report.credentials_removed;
        spdlog::info("Rancher: removed credential {} of registry {} ({}), which this service had created: the "
                     "older {} is kept (another writer created one at the same time)",
                     credential.id, registry_id, host, plan.write.empty() ? "one" : plan.write.front().id);
    }
    co_return result<void>{};
}

asio::awaitable<result<rancher_credential>> rancher_client::read_credential(url const& self) {
    auto answer = co_await exchange("GET", self, {});
    if (!answer) co_return answer.error();
    if (answer->status == 404) {
        rancher_credential gone;
        gone.state = "removed";
        gone.removed = true;
        co_return gone;
    }
    auto const operation = operation_of("GET", self);
    if (!succeeded(*answer)) co_return parse_rancher_error(answer->status, answer->body, operation);
    auto parsed = parse_credential(answer->body);
    if (!parsed) co_return in_operation(parsed.error(), operation, answer->status);
    co_return parsed;
}

asio::awaitable<result<bool>> rancher_client::put_credential(rancher_credential const& credential,
                                                             std::string const& username,
                                                             std::string const& password) {
    auto target = resolve_rancher_link(base_, credential.self_link);
    if (!target) co_return in_operation(target.error(), "Rancher credential " + credential.id);
    auto updated = co_await exchange("PUT", *target, credential_update_body(username, password));
    if (!updated) co_return updated.error();
    if (succeeded(*updated)) {
        spdlog::debug("Rancher: updated credential {} ({}) of registry {}", credential.id, credential.state,
                      credential.registry_id);
        co_return true;
    }
    auto problem = parse_rancher_error(updated->status, updated->body, operation_of("PUT", *target));
    if (problem.retryable) co_return problem;
    // Refused: the writer that created it may have removed it meanwhile (plan_credential_writes);
    // then it is no failure. Anything else is.
    auto now = co_await read_credential(*target);
    if (now && now->removed) co_return false;
    co_return problem;
}

asio::awaitable<result<void>> rancher_client::remove_credential(rancher_credential const& credential) {
    auto self = resolve_rancher_link(base_, credential.self_link);
    if (!self) co_return in_operation(self.error(), "Rancher credential " + credential.id);
    std::string state = credential.state;
    bool removed = credential.removed;
    bool just_read = false;  // the state comes from a GET of its own, not from an action's answer
    bool refused = false;    // the last action or DELETE was refused
    for (int step = 0; step < max_removal_steps; ++step) {
        auto const next = next_removal_step(state, removed);
        if (next == removal_step::done) co_return result<void>{};
        // A transition under way (deactivating): Cattle completes it within moments. Read it again
        // at once, then at a short pause; a refused step is tried again after one too.
        if ((next == removal_step::wait && just_read) || (next != removal_step::wait && refused)) {
            asio::steady_timer pause{co_await asio::this_coro::executor, removal_pause};
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        refused = false;
        if (next != removal_step::wait) {
            url target = *self;
            std::string method = "DELETE";
            if (next == removal_step::deactivate) {
                method = "POST";
                target.target = with_query_parameter(target.target, "action", "deactivate");
            }
            auto const operation = operation_of(method, target);
            auto answer = co_await exchange(method, target, {});
            if (!answer) co_return answer.error();
            if (succeeded(*answer)) {
                if (auto row = parse_credential(answer->body)) {
                    state = row->state;
                    removed = row->removed;
                    just_read = false;
                    continue;
                }
            } else if (answer->status == 404) {
                co_return result<void>{};  // gone already
            } else {
                auto problem = parse_rancher_error(answer->status, answer->body, operation);
                if (problem.retryable) co_return problem;
                // 405 or 422 ActionNotAvailable: its state moved on meanwhile; read it and go on.
                refused = true;
                spdlog::debug("Rancher: {} refused ({}); reading credential {} again", operation, problem.message,
                              credential.id);
            }
        }
        auto now = co_await read_credential(*self);
        if (!now) co_return now.error();
        state = now->state;
        removed = now->removed;
        just_read = true;
    }
    auto problem = make_failure(failure_kind::service, "Rancher credential " + credential.id + " is still " + state +
                                                           " after " + std::to_string(max_removal_steps) +
                                                           " steps to remove it; trying again later");
    problem.retryable = true;
    co_return problem;
}

std::vector<std::string> rancher_client::ours_on(std::string const& registry_id) const {
    std::vector<std::string> out;
    for (auto const& [credential, registry] : created_credentials_)
        if (registry == registry_id) out.push_back(credential);
    return out;
}

asio::awaitable<result<http_response>> rancher_client::exchange(std::string method, url const& target,
                                                                std::string body) {
    auto request = rancher_request(method, target, authorization_, std::move(body));
    if (spdlog::should_log(spdlog::level::trace)) spdlog::trace("Rancher: {} {}", method, target.text());
    auto response = co_await transport_.send(target, std::move(request));
    if (!response) co_return in_operation(response.error(), operation_of(method, target));
    spdlog::trace("Rancher: {} {} answered HTTP {}", method, target.target, response->status);
    co_return response;
}

asio::awaitable<result<rancher_client::collection_urls>> rancher_client::discover() {
    if (collections_) co_return *collections_;
    if (!shared_discovery_) co_return co_await discover_here();

    auto const shared = shared_discovery_;
    auto const attempts_before = shared->attempts_;
    co_await shared->turn_->take();
    std::optional<result<collection_urls>> found;
    std::exception_ptr error;
    try {
        if (auto const& below = shared->below_environment_) {
            url registries = base_;
            registries.target += below->registries;
            url credentials = base_;
            credentials.target += below->credentials;
            collections_ = collection_urls{std::move(registries), std::move(credentials)};
            collections_derived_ = true;
            spdlog::debug("Rancher: API at {}: registries at {}, credentials at {}, as in another environment",
                          base_.text(), collections_->registries.target, collections_->credentials.target);
            found.emplace(*collections_);
        } else if (shared->attempts_ != attempts_before && shared->unanswered_) {
            // The server did not answer the discovery that ran while this client waited: trying
            // again now would make each environment's failure wait on the others' timeouts.
            auto unanswered = *shared->unanswered_;
            unanswered.message += " (met by another environment's discovery through this key while this one waited; "
                                  "it tries again at its next refresh)";
            found.emplace(std::move(unanswered));
        } else {
            auto own = co_await discover_here();
            ++shared->attempts_;
            shared->unanswered_.reset();
            if (own) {
                auto registries = path_below(base_.target, own->registries.target);
                auto credentials = path_below(base_.target, own->credentials.target);
                if (registries && credentials)
                    shared->below_environment_ = cattle_discovery::collection_paths{std::move(*registries),
                                                                                   std::move(*credentials)};
            } else if (went_unanswered(own.error())) {
                shared->unanswered_ = own.error();
            }
            found.emplace(std::move(own));
        }
    } catch (...) {
        error = std::current_exception();
    }
    // The next client waiting derives its collections, or discovers when this one failed.
    shared->turn_->give_back();
    if (error) std::rethrow_exception(error);
    co_return std::move(*found);
}

asio::awaitable<result<rancher_client::collection_urls>> rancher_client::discover_here() {
    auto const operation = operation_of("GET", base_);
    auto root = co_await exchange("GET", base_, {});
    if (!root) co_return root.error();
    if (!succeeded(*root)) co_return parse_rancher_error(root->status, root->body, operation);
    auto const schemas_link = root->header("X-API-Schemas");
    if (!schemas_link || schemas_link->empty())
        co_return make_failure(failure_kind::bad_response,
                               operation + ": the answer has no X-API-Schemas header (is CATTLE_URL a Rancher 1.x API?)");
    auto schemas_url = resolve_rancher_link(base_, *schemas_link);
    if (!schemas_url) co_return in_operation(schemas_url.error(), operation, root->status);

    // The base may be the schemas collection itself; then its answer is the one to read.
    auto schemas_answer = std::move(*root);
    auto schemas_operation = operation;
    if (schemas_url->target != base_.target) {
        schemas_operation = operation_of("GET", *schemas_url);
        auto schemas = co_await exchange("GET", *schemas_url, {});
        if (!schemas) co_return schemas.error();
        if (!succeeded(*schemas)) co_return parse_rancher_error(schemas->status, schemas->body, schemas_operation);
        schemas_answer = std::move(*schemas);
    }
    auto links = parse_schemas(schemas_answer.body);
    if (!links) co_return in_operation(links.error(), schemas_operation, schemas_answer.status);
    auto registries = resolve_rancher_link(base_, links->registries);
    if (!registries) co_return in_operation(registries.error(), schemas_operation, schemas_answer.status);
    auto credentials = resolve_rancher_link(base_, links->credentials);
    if (!credentials) co_return in_operation(credentials.error(), schemas_operation, schemas_answer.status);

    collections_ = collection_urls{std::move(*registries), std::move(*credentials)};
    spdlog::debug("Rancher: API at {}: registries at {}, credentials at {}", base_.text(), collections_->registries.target,
                  collections_->credentials.target);
    co_return *collections_;
}

asio::awaitable<result<http_response>> rancher_client::get(url const& target) {
    auto response = co_await exchange("GET", target, {});
    if (response && !succeeded(*response))
        co_return parse_rancher_error(response->status, response->body, operation_of("GET", target));
    co_return response;
}

asio::awaitable<result<std::vector<rancher_registry>>> rancher_client::list_registries(url const& collection) {
    co_return co_await list_every_page([this](url const& page) { return get(page); }, base_, collection,
                                       parse_registry_page);
}

asio::awaitable<result<std::vector<rancher_credential>>> rancher_client::list_credentials(
    url const& collection, std::string const& registry_id) {
    // serverAddress is no column, but registryId is: the server filters credentials (§1.3).
    url first = collection;
    first.target = with_query_parameter(first.target, "registryId", registry_id);
    co_return co_await list_every_page([this](url const& page) { return get(page); }, base_, std::move(first),
                                       parse_credential_page);
}

asio::awaitable<result<std::optional<rancher_registry>>> rancher_client::find_registry(url const& collection,
                                                                                       std::string const& host) {
    auto registries = co_await list_registries(collection);
    if (!registries) co_return registries.error();
    co_return choose_registry(*registries, host);
}

std::optional<rancher_registry> rancher_client::choose_registry(std::vector<rancher_registry> const& registries,
                                                                std::string const& host) {
    auto chosen = select_registry(registries, host);
    auto const matching = std::ranges::count_if(
        registries, [&](rancher_registry const& r) { return server_address_matches(r.server_address, host); });
    if (chosen) {
        spdlog::debug("Rancher: registry {} (server address {}, {}) matches {} among {} registries", chosen->id,
                      chosen->server_address, chosen->state, host, registries.size());
        if (matching > 1)
            spdlog::warn("Rancher: {} registries match {}; writing registry {} only (server address {})", matching,
                         host, chosen->id, chosen->server_address);
    } else {
        spdlog::debug("Rancher: none of {} registries matches {}", registries.size(), host);
    }
    return chosen;
}

failure rancher_client::redacted(failure problem, std::string const& password) const {
    for (auto const* secret : {&password, &secret_key_}) {
        replace_all(problem.message, *secret);
        replace_all(problem.code, *secret);
    }
    return problem;
}

}  // namespace rancher_ecr
