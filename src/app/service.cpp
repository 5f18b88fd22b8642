#include "app/service.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <csignal>
#include <exception>
#include <memory>
#include <optional>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "app/aws_setup.hpp"
#include "app/probe_routes.hpp"
#include "app/targets_file.hpp"
#include "app/supervised_task.hpp"
#include "aws/credential_chain.hpp"
#include "aws/ecr_client.hpp"
#include "aws/ecr_endpoint.hpp"
#include "net/http_server.hpp"
#include "net/https_client.hpp"
#include "net/fifo_turns.hpp"
#include "net/origin_limit.hpp"
#include "net/proxy.hpp"
#include "net/timed_transport.hpp"
#include "obs/health.hpp"
#include "obs/logging.hpp"
#include "obs/metrics.hpp"
#include "peer_text.hpp"
#include "rancher/cattle_writer.hpp"
#include "rancher/discovering_writer.hpp"
#include "rancher/norman_writer.hpp"
#include "rancher/place_listing.hpp"
#include "rancher/rancher_client.hpp"
#include "refresh/refresh_schedule.hpp"
#include "refresh/refresh_task.hpp"
#include "refresh/target_refresh.hpp"
#include "refresh/token_cache.hpp"
#include "version.hpp"

namespace rancher_ecr {

namespace asio = boost::asio;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// After SIGTERM, a refresh under way gets this long to finish before the process exits.
constexpr std::chrono::milliseconds shutdown_grace{700};

// The CAs the clients trust: AWS's (the system store and AWS_CA_BUNDLE) and Rancher's (the system
// store), one and the same without AWS_CA_BUNDLE; each loaded at its first TLS connection.
struct trusts {
    std::shared_ptr<tls_trust> aws;
    std::shared_ptr<tls_trust> rancher;
};

// A CA bundle that cannot be loaded is a configuration error, reported at start with the variable
// that named it.
result<trusts> make_trusts(service_config const& config) {
    auto system = std::make_shared<tls_trust>();
    auto with_bundle = [&](std::optional<std::string> const& bundle,
                           std::string_view variable) -> result<std::shared_ptr<tls_trust>> {
        if (!bundle) return system;
        auto trust = std::make_shared<tls_trust>(*bundle);
        if (auto loaded = trust->context(); !loaded) {
            auto problem = loaded.error();
            problem.message = std::string{variable} + ": " + problem.message;
            return problem;
        }
        return trust;
    };
    auto aws = with_bundle(config.ca_bundle, "AWS_CA_BUNDLE");
    if (!aws) return aws.error();
    auto rancher = with_bundle(config.rancher_ca_bundle, "CATTLE_CA_BUNDLE");
    if (!rancher) return rancher.error();
    return trusts{std::move(*aws), std::move(*rancher)};
}

// The writer a target's URL asks for: Cattle's (1.x), norman's (2.x), or, for a bare origin, the
// one that GET /v3 finds. `cattle` receives the 1.x client behind the writer, which shares
// `discovery` (the environments of one listing share one).
std::unique_ptr<credential_writer> make_writer(target_settings const& target, std::string const& secret_key,
                                               http_transport& transport, std::unique_ptr<rancher_client>& cattle,
                                               std::shared_ptr<cattle_discovery> const& discovery) {
    auto make = [&target, secret_key, &transport, &cattle, discovery](rancher_generation generation) -> std::unique_ptr<credential_writer> {
        if (generation == rancher_generation::cattle) {
            // Only a bare origin gets here with them: the configuration refuses them with a 1.x URL.
            if (!target.project.empty() || !target.namespaces.empty() || target.credential_name)
                spdlog::warn("{}: RANCHER_PROJECT, RANCHER_NAMESPACE and RANCHER_CREDENTIAL_NAME are for Rancher 2.x "
                             "and are ignored: Rancher at {} speaks the 1.x API",
                             target.name, target.rancher_url.origin());
            cattle = std::make_unique<rancher_client>(transport, target.rancher_url, target.access_key, secret_key,
                                                      discovery);
            return std::make_unique<cattle_writer>(*cattle, target.auto_create);
        }
        url api = target.rancher_url;
        if (!target.rancher_api) api.target = "/v3";
        else if (auto choice = classify_cattle_url(api)) api = choice->api;
        return std::make_unique<norman_writer>(
            transport, std::move(api), target.access_key, secret_key,
            norman_place{target.project, target.namespaces, target.credential_name, target.auto_create});
    };
    if (target.rancher_api) return make(*target.rancher_api);
    return std::make_unique<discovering_writer>(transport, target.rancher_url, target.access_key, secret_key, make);
}

std::string seconds_text(std::chrono::milliseconds delay) {
    return std::to_string(delay.count() / 1000) + "." + std::to_string(delay.count() % 1000 / 100) + " s";
}

// "Rancher 1.x (Cattle)", "Rancher 2.x (norman v3), project local/Default, namespaces apps,jobs", or
// for a bare origin "Rancher (its API is asked with GET /v3)".
std::string describe_rancher_api(target_settings const& target) {
    if (!target.rancher_api) return "Rancher (its API is asked with GET /v3 at the first refresh)";
    if (*target.rancher_api == rancher_generation::cattle)
        return target.expansion.any() ? "Rancher 1.x (Cattle), environments listed" : "Rancher 1.x (Cattle)";
    if (target.expansion.any()) return "Rancher 2.x (norman v3), projects listed";
    std::string text = "Rancher 2.x (norman v3), project " + target.project;
    for (std::size_t i = 0; i < target.namespaces.size(); ++i)
        text += (i == 0 ? ", namespaces " : ",") + target.namespaces[i];
    return text;
}

char const* signal_name(int signal_number) { return signal_number == SIGTERM ? "SIGTERM" : "SIGINT"; }

// The environment with the credential variables of the process taken away and AWS_PROFILE set:
// what a target's `profile` means (the profile wins over the process's own keys).
environment with_profile(environment const& env, std::string profile) {
    return [env, profile = std::move(profile)](std::string_view name) -> std::optional<std::string> {
        if (name == "AWS_PROFILE") return profile;
        if (name == "AWS_ACCESS_KEY_ID" || name == "AWS_SECRET_ACCESS_KEY" || name == "AWS_SESSION_TOKEN" ||
            name == "AWS_SECURITY_TOKEN" || name == "AWS_WEB_IDENTITY_TOKEN_FILE" || name == "AWS_ROLE_ARN" ||
            name == "AWS_DEFAULT_PROFILE")
            return std::nullopt;
        return env(name);
    };
}

// What a TLS failure of a Rancher client tells the operator when no trusted CA signed Rancher's certificate.
constexpr char const* rancher_untrusted_certificate_hint =
    "if Rancher's certificate comes from a CA of your own, give that CA's PEM file in CATTLE_CA_BUNDLE (in a "
    "targets file: ca_bundle)";

// The Rancher side of one CA bundle: its HTTPS client, timed into the metrics, behind the
// per-origin limit.
struct rancher_route {
    rancher_route(asio::any_io_executor executor, std::shared_ptr<tls_trust> trust, proxy_settings const& proxies,
                  service_metrics& metrics, std::size_t limit)
        : https{executor,
                https_client_options{.max_idle_per_origin = limit,
                                     .trust = std::move(trust),
                                     .proxies = proxies,
                                     .untrusted_certificate_hint = rancher_untrusted_certificate_hint}},
          timed{https, [&metrics](auto elapsed) { metrics.rancher_request(elapsed); }},
          limited{executor, timed, limit} {}
    https_client https;
    timed_transport timed;
    origin_limit limited;
};

// One target at run time: its settings, what it reports, its writer and its schedule. A target with
// `environments`/`projects` lists its places at each refresh and runs a child target for each.
struct target_runtime {
    target_runtime(asio::io_context& context, target_settings settings_, schedule_policy policy)
        : settings{std::move(settings_)}, machine{policy}, timer{context} {
        status.name = settings.name;
        if (!settings.expansion.any()) {
            if (settings.registry_ids.empty()) status.registries.push_back({"default", {}, {}, {}, {}});
            for (auto const& id : settings.registry_ids) status.registries.push_back({id, {}, {}, {}, {}});
        }
    }
    target_settings settings;
    target_status status;
    token_cache* tokens = nullptr;
    rancher_route* route = nullptr;
    std::unique_ptr<rancher_client> cattle;  // Rancher 1.x: behind writer
    // Rancher 1.x environments listed: one discovery for the listing target and all its children.
    std::shared_ptr<cattle_discovery> discovery;
    std::unique_ptr<credential_writer> writer;
    std::string writer_key;  // the secret key the writer was made with: a rotated key makes a new one
    target_refresh machine;
    asio::steady_timer timer;
    bool removed = false;
    std::string place_id;  // a child's environment or project id
    // When ECR gave the tokens this target had last: its next refresh wants newer ones.
    std::optional<std::chrono::system_clock::time_point> tokens_received_at;
    std::vector<std::shared_ptr<target_runtime>> children;

    bool lists_places() const { return settings.expansion.any(); }
};

// The status of `registry_host` among the target's registries: the one whose registry id starts the
// host (<account>.dkr.ecr...), else the first.
registry_status& registry_of(target_status& status, std::string_view registry_host) {
    for (auto& registry : status.registries) {
        auto const& id = registry.name;
        if (registry_host.size() > id.size() && registry_host.starts_with(id) && registry_host[id.size()] == '.')
            return registry;
    }
    return status.registries.front();
}

// The parts of the running service and the state the probes report. One io_context thread
// owns all of it.
class service {
public:
    // `aws`: the region and the credentials set_up_aws resolved (the configuration's region may be empty).
    // `credential_clients`: those behind aws.credentials, whose idle connections go after each refresh.
    // `signals`: SIGINT and SIGTERM, watched from before the start (see with_started_service).
    service(asio::io_context& context, service_config const& config, aws_settings const& settings, environment env,
            aws_access aws, trusts const& trust, credential_clients& credential_clients, asio::signal_set& signals)
        : context_{context},
          signals_{signals},
          config_{config},
          aws_settings_{settings},
          env_{std::move(env)},
          aws_{std::move(aws)},
          trust_{trust},
          credential_clients_{credential_clients},
          ecr_https_{context.get_executor(),
                     https_client_options{.trust = trust.aws,
                                          .proxies = config.proxies,
                                          .untrusted_certificate_hint = aws_untrusted_certificate_hint}},
          ecr_transport_{ecr_https_, [this](auto elapsed) { metrics_.ecr_request(elapsed); }},
          metrics_{RANCHER_ECR_CREDENTIALS_VERSION},
          random_{std::random_device{}()} {
        policy_.interval = config.refresh_interval;
    }

    // Makes the targets (their AWS identities, token caches and Rancher routes); a failure names the
    // target and what is wrong (a profile that cannot be planned, a CA bundle that does not load).
    result<void> set_targets(std::vector<target_settings> const& targets) {
        for (auto const& settings : targets) {
            auto target = make_target(settings);
            if (!target) return target.error();
            targets_.push_back(std::move(*target));
        }
        statuses_dirty_ = true;
        return {};
    }

    // One refresh of every target, one after the other (a target that lists places, then each of
    // them); true when all succeeded. A stop (SIGINT, SIGTERM) leaves the targets not yet begun
    // undone: false then.
    asio::awaitable<bool> refresh_all_once() {
        once_ = true;
        bool all_ok = true;
        for (auto& target : targets_) {
            if (stopping_) co_return false;
            co_await tracked_refresh(*target);
            all_ok = all_ok && target->status.last_refresh_ok;
            for (auto& child : target->children) {
                if (stopping_) co_return false;
                co_await tracked_refresh(*child);
                all_ok = all_ok && child->status.last_refresh_ok;
            }
        }
        co_return all_ok && !stopping_;
    }

    // Starts the top-level tasks, each supervised (spawn_supervised): a refresh task per target, the
    // signal watch and, with a targets file, the SIGHUP watch. A refresh task that throws (a bug) is
    // logged, its target's health turns failing with the exception's message (503 on /healthz), and
    // it starts again after a backoff (1 s doubling to 5 minutes).
    void start(http_server* server) {
        server_ = server;
        for (auto& target : targets_) start_target(target);
        stop_on_signals();
        if (config_.targets_file) reload_on_hangup();
    }

    // SIGINT or SIGTERM stops the service: at once when no refresh is under way, else after the
    // refresh under way ends or shutdown_grace passes, whichever comes first (then context.stop()).
    void stop_on_signals() {
        spawn_supervised(context_.get_executor(), supervised_task{.name = "the signal watch",
                                                                  .run = [this] { return stop_on_signal(); },
                                                                  .on_failure = {},
                                                                  .keep_running = [this] { return !stopping_; },
                                                                  .restart = {}});
    }

    bool stopping() const { return stopping_; }

    std::shared_ptr<http_response const> answer(std::string_view method, std::string_view target) {
        return probes_.answer(method, target, std::chrono::system_clock::now());
    }

    std::string const& region() const { return aws_.region; }

    // "ECR direct, STS through the proxy proxy.corp:3128, Rancher ..." (never a proxy's credentials).
    std::string describe_routes() const {
        auto const& proxies = config_.proxies;
        std::string text = "ECR " + describe_route(proxies, ecr_endpoint(aws_.region, config_.ecr_endpoint)) +
                           ", STS " + describe_route(proxies, sts_endpoint(aws_.region, config_.sts_endpoint));
        std::set<std::string> origins;
        for (auto const& t : targets_)
            if (origins.insert(t->settings.rancher_url.origin()).second)
                text += ", Rancher " + describe_route(proxies, t->settings.rancher_url);
        return text;
    }

    // "prod (Rancher 1.x ... at http://..., ECR in us-east-1 for 123456789012)", the first ten.
    std::string describe_targets() const {
        std::string text;
        std::size_t shown = 0;
        for (auto const& t : targets_) {
            if (shown++ == 10) {
                text += ", and " + std::to_string(targets_.size() - 10) + " more";
                break;
            }
            auto const& s = t->settings;
            std::string ids;
            for (auto const& id : s.registry_ids) ids += (ids.empty() ? "" : ",") + id;
            text += (text.empty() ? "" : "; ") + s.name + ": " + describe_rancher_api(s) + " at " +
                    s.rancher_url.origin() + ", ECR in " + (s.region.empty() ? aws_.region : s.region) + " for " +
                    (ids.empty() ? "the caller's registry" : ids);
        }
        return text;
    }

private:
    // The identity a target's tokens are fetched with: "" for the process's credential chain,
    // "profile:<name>" or "role:<arn>".
    static std::string identity_of(target_settings const& settings) {
        if (!settings.profile.empty()) return "profile:" + settings.profile;
        if (!settings.role_arn.empty()) return "role:" + settings.role_arn;
        return {};
    }

    result<credential_source*> credentials_for(target_settings const& settings) {
        auto identity = identity_of(settings);
        if (identity.empty()) return aws_.credentials.get();
        if (auto known = identities_.find(identity); known != identities_.end()) return known->second.get();
        credential_plan plan;
        if (!settings.profile.empty()) {
            auto env = with_profile(env_, settings.profile);
            auto profiles = load_shared_profiles(env);
            if (!profiles) return profiles.error();
            auto planned = plan_credentials(env, *profiles);
            if (!planned) return planned.error();
            plan = std::move(*planned);
        } else {
            plan = aws_settings_.plan;
            plan.roles.push_back(role_to_assume{settings.role_arn, "", "", "role_arn of target " + settings.name});
        }
        auto const& region = settings.region.empty() ? aws_.region : settings.region;
        spdlog::info("{}: AWS credentials from {}", settings.name, describe(plan));
        auto source = make_credential_source(plan, credential_clients_.transports(), region,
                                             sts_endpoint(region, config_.sts_endpoint));
        auto* raw = source.get();
        identities_.emplace(identity, std::move(source));
        return raw;
    }

    result<token_cache*> tokens_for(target_settings const& settings) {
        auto credentials = credentials_for(settings);
        if (!credentials) return credentials.error();
        auto const& region = settings.region.empty() ? aws_.region : settings.region;
        auto endpoint = ecr_endpoint(region, settings.ecr_endpoint);
        auto key = identity_of(settings) + "|" + region + "|" + endpoint.text();
        auto& cache = token_caches_[key];
        if (!cache)
            cache = std::make_unique<token_cache>(context_.get_executor(), **credentials, ecr_transport_, region,
                                                  std::move(endpoint), policy_);
        return cache.get();
    }

    result<rancher_route*> route_for(target_settings const& settings) {
        auto const key = settings.rancher_ca_bundle.value_or("");
        auto& route = routes_[key];
        if (!route) {
            auto trust = trust_.rancher;
            if (settings.rancher_ca_bundle != config_.rancher_ca_bundle) {
                trust = settings.rancher_ca_bundle ? std::make_shared<tls_trust>(*settings.rancher_ca_bundle)
                                                   : std::make_shared<tls_trust>();
                if (auto loaded = trust->context(); !loaded) {
                    routes_.erase(key);
                    auto problem = loaded.error();
                    problem.message = "ca_bundle: " + problem.message;
                    return problem;
                }
            }
            route = std::make_unique<rancher_route>(context_.get_executor(), std::move(trust), config_.proxies,
                                                    metrics_, config_.rancher_max_concurrency);
        }
        return route.get();
    }

    result<std::shared_ptr<target_runtime>> make_target(target_settings const& settings) {
        auto target = std::make_shared<target_runtime>(context_, settings, policy_);
        auto route = route_for(settings);
        if (!route) return make_failure(route.error().kind, "target " + settings.name + ": " + route.error().message);
        target->route = *route;
        if (!settings.expansion.any()) {
            auto tokens = tokens_for(settings);
            if (!tokens) return make_failure(tokens.error().kind, "target " + settings.name + ": " + tokens.error().message);
            target->tokens = *tokens;
        }
        return target;
    }

    void start_target(std::shared_ptr<target_runtime> const& target) {
        spawn_supervised(context_.get_executor(), refresh_task(target));
    }

    // Stops the target (and its children) after the refresh under way, if any; its status and series go.
    void remove_target(target_runtime& target) {
        target.removed = true;
        target.timer.cancel();
        for (auto& child : target.children) remove_target(*child);
        metrics_.forget_target(target.settings.name);
        statuses_changed();
    }

    void statuses_changed() {
        statuses_dirty_ = true;
        probes_.targets_changed();
    }

    std::span<target_status const> statuses() {
        if (statuses_dirty_) {
            statuses_.clear();
            for (auto const& target : targets_) {
                statuses_.push_back(target->status);
                for (auto const& child : target->children) statuses_.push_back(child->status);
            }
            statuses_dirty_ = false;
        }
        return statuses_;
    }

    bool every_target_ok() const {
        return std::ranges::all_of(targets_, [](auto const& t) {
            return t->status.last_refresh_ok &&
                   std::ranges::all_of(t->children, [](auto const& c) { return c->status.last_refresh_ok; });
        });
    }

    // The secret key of the target, read again (a file or variable may have been rotated), and the
    // writer made with it.
    result<credential_writer*> writer_of(target_runtime& target, std::string const& secret_key) {
        if (!target.writer || target.writer_key != secret_key) {
            target.writer = make_writer(target.settings, secret_key, target.route->limited, target.cattle,
                                        target.discovery);
            target.writer_key = secret_key;
        }
        return target.writer.get();
    }

    // One refresh of `target`, the steps as its target_refresh machine decides them; returns the
    // wait before the next one.
    asio::awaitable<wait_step> refresh(target_runtime& target) {
        metrics_.refresh_attempted();
        auto const started = std::chrono::system_clock::now();
        refresh_outcome outcome;
        auto secret_key = read_secret_key(target.settings.secret_key, env_);
        // Every Rancher request carries the API keys: an error answer that echoes them is not quoted.
        mask_in_peer_text(target.settings.access_key);
        if (secret_key) mask_in_peer_text(*secret_key);
        if (!secret_key) {
            spdlog::error("{}: {}", target.settings.name, secret_key.error().message);
            outcome.problem = secret_key.error();
            outcome.reason = refresh_failure_reason::rancher;
        } else if (target.lists_places()) {
            outcome = co_await refresh_places(target, *secret_key);
        } else {
            auto step = target.machine.start(started);
            if (std::holds_alternative<fetch_tokens_step>(step)) {
                auto tokens = co_await target.tokens->tokens(target.settings.registry_ids, target.tokens_received_at);
                if (tokens) target.tokens_received_at = tokens->newest;
                if (!tokens) {
                    outcome.problem = tokens.error();
                    outcome.reason = refresh_failure_reason::ecr;
                } else {
                    step = target.machine.tokens_fetched(std::move(tokens->tokens), tokens->received_at);
                }
            }
            if (auto* write = std::get_if<write_tokens_step>(&step)) {
                // A retry of the write keeps the tokens: ECR throttles GetAuthorizationToken.
                if (write->kept) spdlog::info("{}: writing the tokens ECR gave earlier again", target.settings.name);
                auto writer = writer_of(target, *secret_key);
                outcome = co_await write_tokens(**writer, std::move(write->tokens));
            }
        }
        auto const now = std::chrono::system_clock::now();
        std::uniform_real_distribution<double> unit{0.0, 1.0};
        auto wait = target.machine.finished(outcome, now, unit(random_));
        // A listing holds no token to schedule by: it is read again every REFRESH_INTERVAL.
        if (target.lists_places() && outcome.ok()) wait.delay = policy_.interval;
        if (target.removed) co_return wait;  // a reload or a listing took it away meanwhile
        auto const& name = target.settings.name;
        for (std::size_t i = 0; i < outcome.tokens.size(); ++i) {
            auto const& token = outcome.tokens[i];
            auto const& expiry = wait.expiries[i];
            // Once per registry, however many targets write its tokens.
            if (expiry.reported_ignored && expiry_warned_registries_.insert(token.registry_host).second)
                spdlog::warn("ECR gave registry {} a token that claims to expire at {}; that cannot be right, so "
                             "its documented 12-hour lifetime is assumed",
                             token.registry_host, format_utc(token.expires_at));
            metrics_.token_written(name, token.registry_host, token.credential, expiry.at, now);
            auto& registry = registry_of(target.status, token.registry_host);
            registry.registry_host = token.registry_host;
            registry.token_expires_at = expiry.at;
            registry.credential = token.credential;
            registry.namespace_name = token.namespace_name;
        }
        auto& status = target.status;
        status.attempted = true;
        status.last_refresh_ok = outcome.ok();
        if (outcome.ok()) {
            status.last_success = now;
            status.last_error.clear();
        } else {
            status.last_error = describe(*outcome.problem);
        }
        metrics_.target_refreshed(name, outcome.ok(), now);
        if (outcome.ok()) {
            // With several targets, the unlabelled series claims a success only once all have one.
            if (every_target_ok()) metrics_.every_target_succeeded(now);
        } else {
            metrics_.refresh_failed(to_string(outcome.reason));
        }
        statuses_changed();
        co_return wait;
    }

    // A target with `environments`/`projects`: lists the places its key sees and runs a child target
    // for each one selected (those no longer listed are stopped). Children keep their state while
    // listed: an unchanged child is never restarted.
    asio::awaitable<refresh_outcome> refresh_places(target_runtime& target, std::string const& secret_key) {
        auto const& s = target.settings;
        refresh_outcome outcome;
        result<std::vector<rancher_place>> listed = std::vector<rancher_place>{};
        if (s.rancher_api == rancher_generation::cattle) {
            auto base = normalise_cattle_url(s.rancher_url);
            if (!base) listed = base.error();
            else listed = co_await list_cattle_environments(target.route->limited, *base, s.access_key, secret_key);
        } else {
            auto choice = classify_cattle_url(s.rancher_url);
            if (!choice) listed = choice.error();
            else listed = co_await list_norman_projects(target.route->limited, choice->api, s.access_key, secret_key);
        }
        if (!listed) {
            outcome.problem = listed.error();
            outcome.reason = refresh_failure_reason::rancher;
            spdlog::error("{}: listing the {} failed: {}", s.name,
                          s.rancher_api == rancher_generation::cattle ? "environments" : "projects",
                          describe(listed.error()));
            co_return outcome;
        }
        if (target.removed) co_return outcome;
        auto const what = s.rancher_api == rancher_generation::cattle ? "environment" : "project";
        auto choice = choose_places(s.name, *listed, s.expansion.all, s.expansion.names);
        // The places found are still written; the listing target says what it missed.
        if (auto message = describe_missed_places(choice, what, listed->size()); !message.empty()) {
            outcome.problem = make_failure(failure_kind::config, message);
            outcome.problem->refused = refusal::project_not_found;
            outcome.reason = refresh_failure_reason::rancher;
            spdlog::error("{}: {}", s.name, message);
        }
        std::vector<std::shared_ptr<target_runtime>> children;
        std::size_t added = 0;
        for (auto const& chosen : choice.chosen) {
            auto const& place = chosen.place;
            auto const& name = chosen.target_name;
            auto existing = std::ranges::find_if(target.children, [&](auto const& c) {
                return c->place_id == place.id && c->settings.name == name;
            });
            if (existing != target.children.end()) {
                children.push_back(*existing);
                continue;
            }
            auto child_settings = s;
            child_settings.name = name;
            child_settings.expansion = {};
            if (s.rancher_api == rancher_generation::cattle) {
                auto base = normalise_cattle_url(s.rancher_url);
                child_settings.rancher_url = *base;
                child_settings.rancher_url.target += "/projects/" + place.id;
            } else {
                child_settings.project = place.id;
            }
            auto child = make_target(child_settings);
            if (!child) {
                outcome.problem = child.error();
                outcome.reason = refresh_failure_reason::rancher;
                continue;
            }
            (*child)->place_id = place.id;
            if (s.rancher_api == rancher_generation::cattle) {
                if (!target.discovery) target.discovery = std::make_shared<cattle_discovery>(context_.get_executor());
                (*child)->discovery = target.discovery;
            }
            children.push_back(*child);
            ++added;
            if (!once_) start_target(*child);
        }
        std::size_t removed = 0;
        for (auto& child : target.children)
            if (std::ranges::find(children, child) == children.end()) {
                remove_target(*child);
                ++removed;
            }
        target.children = std::move(children);
        if (added + removed > 0 || !target.status.attempted)
            spdlog::info("{}: {} {}s found, {} selected ({} new, {} gone)", s.name, listed->size(), what,
                         choice.chosen.size(), added, removed);
        statuses_changed();
        co_return outcome;
    }

    // A round of refreshes allocates in a burst (a thousand targets: their requests, answers and
    // coroutine frames at once) and frees nearly all of it; glibc keeps the freed pages. Handed back
    // once the round is over, the service's resident memory is what it holds between rounds.
    static void release_free_memory() {
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }

    // A place's refresh waits for its turn among those to the same Rancher origin before it
    // allocates anything: a thousand places listed at once then hold a few dozen requests and
    // answers at a time, not a thousand, while the origin's request limit stays busy. A listing
    // takes no turn (its places refresh on tasks of their own). Per origin, so that a Rancher
    // server that hangs holds back only its own places.
    fifo_turns& refresh_turns_of(target_runtime const& target) {
        auto origin = target.settings.rancher_url.origin();
        auto found = refresh_turns_.find(origin);
        if (found == refresh_turns_.end())
            found = refresh_turns_
                        .emplace(std::move(origin),
                                 std::make_unique<fifo_turns>(context_.get_executor(),
                                                              refreshes_per_request_turn * config_.rancher_max_concurrency))
                        .first;
        return *found->second;
    }
    static constexpr std::size_t refreshes_per_request_turn = 4;

    // refresh() counted in refreshes_under_way_, so that a stop waits only while one is. Not by a
    // guard object: a coroutine abandoned at exit is destroyed after this service.
    asio::awaitable<wait_step> tracked_refresh(target_runtime& target) {
        ++refreshes_under_way_;
        std::exception_ptr error;
        wait_step wait{};
        fifo_turns* turns = target.lists_places() ? nullptr : &refresh_turns_of(target);
        bool holding = false;
        try {
            if (turns) {
                co_await turns->take();
                holding = true;
            }
            // A stop, or a reload that removed the target while it waited, leaves it undone.
            if (!stopping_ && !target.removed) wait = co_await refresh(target);
        } catch (...) {
            error = std::current_exception();
        }
        if (holding) turns->give_back();
        if (--refreshes_under_way_ == 0) {
            if (stopping_) grace_.cancel();  // nothing left to wait for
            // Refreshes are far apart: by the next one every host has closed these connections.
            ecr_https_.close_idle_connections();
            for (auto& [bundle, route] : routes_) route->https.close_idle_connections();
            credential_clients_.close_idle_connections();
            release_free_memory();
        }
        if (error) std::rethrow_exception(error);
        co_return wait;
    }

    // The target's refresh_forever under supervision: an exception turns its health failing.
    supervised_task refresh_task(std::shared_ptr<target_runtime> const& target) {
        return supervised_task{
            .name = "the refresh task of " + target->settings.name,
            .run = [this, target] { return refresh_forever(target); },
            .on_failure =
                [this, target](std::string const& error) {
                    auto& status = target->status;
                    status.attempted = true;
                    status.last_refresh_ok = false;
                    status.last_error =
                        "the refresh task failed on an unexpected error (" + error + "); it starts again after a backoff";
                    statuses_changed();
                },
            .keep_running = [this, target] { return !stopping_ && !target->removed; },
            .restart = {}};
    }

    asio::awaitable<void> refresh_forever(std::shared_ptr<target_runtime> target) {
        while (!stopping_ && !target->removed) {
            auto wait = co_await tracked_refresh(*target);
            if (stopping_ || target->removed) break;
            spdlog::info("{}: next refresh in {}", target->settings.name, seconds_text(wait.delay));
            target->timer.expires_after(wait.delay);
            co_await target->timer.async_wait(use_tuple);
        }
    }

    // SIGHUP re-reads the targets file: an unchanged target keeps its state, a changed one starts
    // afresh, a removed one stops, a new one starts; a bad file changes nothing.
    void reload_on_hangup() {
        hangups_ = std::make_unique<asio::signal_set>(context_, SIGHUP);
        spawn_supervised(context_.get_executor(), supervised_task{.name = "the SIGHUP watch",
                                                                  .run = [this] { return reload_on_signal(); },
                                                                  .on_failure = {},
                                                                  .keep_running = [this] { return !stopping_; },
                                                                  .restart = {}});
    }

    asio::awaitable<void> reload_on_signal() {
        while (!stopping_) {
            auto [ec, signal_number] = co_await hangups_->async_wait(use_tuple);
            if (ec || stopping_) co_return;
            reload();
        }
    }

    void reload() {
        auto const& path = *config_.targets_file;
        auto read = read_targets_file(path, config_, env_);
        if (!read) {
            spdlog::error("SIGHUP: the targets file is refused, the targets stay as they were: {}", read.error().message);
            metrics_.config_reloaded(false);
            return;
        }
        std::vector<std::shared_ptr<target_runtime>> next, started;
        std::size_t kept = 0;
        for (auto const& settings : *read) {
            auto same = std::ranges::find_if(targets_, [&](auto const& t) { return t->settings == settings; });
            if (same != targets_.end()) {
                next.push_back(*same);
                ++kept;
                continue;
            }
            auto target = make_target(settings);
            if (!target) {
                spdlog::error("SIGHUP: the targets file is refused, the targets stay as they were: {}",
                              target.error().message);
                metrics_.config_reloaded(false);
                return;
            }
            next.push_back(*target);
            started.push_back(*target);
        }
        std::size_t removed = 0;
        for (auto& target : targets_)
            if (std::ranges::find(next, target) == next.end()) {
                remove_target(*target);
                ++removed;
            }
        targets_ = std::move(next);
        for (auto& target : started) start_target(target);
        metrics_.config_reloaded(true);
        statuses_changed();
        spdlog::info("SIGHUP: {} re-read: {} targets unchanged, {} started (new or changed), {} stopped", path, kept,
                     started.size(), removed);
    }

    asio::awaitable<void> stop_on_signal() {
        auto [ec, signal_number] = co_await signals_.async_wait(use_tuple);
        if (ec) co_return;
        spdlog::info("received {}: stopping", signal_name(signal_number));
        stopping_ = true;
        if (server_) server_->stop();
        if (hangups_) hangups_->cancel();
        for (auto& target : targets_) {
            target->timer.cancel();
            for (auto& child : target->children) child->timer.cancel();
        }
        if (refreshes_under_way_ == 0) {
            spdlog::info("stopping: nothing under way");
        } else {
            // A refresh waiting on the network (a write to Rancher, maybe) gets a short grace; its
            // end cuts it short (tracked_refresh).
            spdlog::info("waiting up to {} for the refresh under way", seconds_text(shutdown_grace));
            grace_.expires_after(shutdown_grace);
            co_await grace_.async_wait(use_tuple);
        }
        context_.stop();
    }

    asio::io_context& context_;
    asio::signal_set& signals_;
    service_config const& config_;
    aws_settings const& aws_settings_;
    environment env_;
    aws_access aws_;
    trusts const& trust_;
    credential_clients& credential_clients_;
    https_client ecr_https_;
    timed_transport ecr_transport_;
    service_metrics metrics_;
    schedule_policy policy_;
    std::mt19937_64 random_;
    std::map<std::string, std::unique_ptr<credential_source>> identities_;  // by identity_of, but the process's
    std::map<std::string, std::unique_ptr<token_cache>> token_caches_;       // by identity, region, endpoint
    std::map<std::string, std::unique_ptr<rancher_route>> routes_;           // by CA bundle
    std::map<std::string, std::unique_ptr<fifo_turns>, std::less<>> refresh_turns_;  // by Rancher origin
    std::set<std::string, std::less<>> expiry_warned_registries_;  // told of an expiry that cannot be right
    std::vector<std::shared_ptr<target_runtime>> targets_;
    std::vector<target_status> statuses_;  // of targets_ and their children, rebuilt when asked after a change
    bool statuses_dirty_ = true;
    probe_answers probes_{[this] { return statuses(); }, metrics_,
                          config_.targets_file ? health_layout::targets_only : health_layout::with_flat_registries};
    std::unique_ptr<asio::signal_set> hangups_;
    http_server* server_ = nullptr;
    bool stopping_ = false;
    bool once_ = false;
    int refreshes_under_way_ = 0;
    asio::steady_timer grace_{context_};  // the wait for the refreshes under way at a stop
};

// The io_context of one run. A stop leaves coroutines waiting (a refresh past its grace, the AWS
// start interrupted); shutdown() destroys them while the parts they refer to still exist, where
// ~io_context would do it after those parts are gone.
class run_context : public asio::io_context {
public:
    using asio::io_context::shutdown;
};

// Calls run_context::shutdown() when it goes out of scope (before what was declared ahead of it).
struct shutdown_on_exit {
    run_context& context;
    ~shutdown_on_exit() { context.shutdown(); }
};

// How the AWS start ended: with the access, or without it after a failure or a signal (logged).
struct aws_start {
    std::optional<aws_access> access;
    bool interrupted = false;  // SIGINT or SIGTERM came first
};

// Runs set_up_aws to completion on `context` (each of its steps has its own deadline), unless
// SIGINT or SIGTERM arrives on `signals` first: then returns at once with `interrupted` (nothing has
// been written yet; set_up_aws is left waiting). Logs why when it fails or is interrupted. On
// success the signals are left for the service to watch; one that came meanwhile waits in the set.
aws_start start_aws(run_context& context, asio::signal_set& signals, service_config const& config,
                    aws_settings const& aws, credential_clients& clients) {
    // Shared with the handlers: after an interruption they outlive this call (and never run).
    struct progress {
        std::optional<result<aws_access>> outcome;
        bool watching = true;
        int signal_number = 0;
    };
    auto state = std::make_shared<progress>();
    signals.async_wait([state](boost::system::error_code ec, int signal_number) {
        state->watching = false;
        if (!ec) state->signal_number = signal_number;
    });
    asio::co_spawn(context, set_up_aws(config, aws, clients.transports()),
                   [state](std::exception_ptr error, result<aws_access> access) {
                       if (error) std::rethrow_exception(error);
                       state->outcome.emplace(std::move(access));
                   });
    while (!state->outcome && state->signal_number == 0 && context.run_one() > 0) {
    }
    if (state->signal_number == 0) {
        signals.cancel();  // the service watches them from now on
        while (state->watching && context.run_one() > 0) {
        }
    }
    if (context.stopped()) context.restart();
    if (state->signal_number != 0) {
        spdlog::info("received {} while starting: stopping", signal_name(state->signal_number));
        return {std::nullopt, true};
    }
    if (!state->outcome) throw std::logic_error("set_up_aws did not complete");
    if (!*state->outcome) {
        spdlog::critical("starting failed: {}", describe(state->outcome->error()));
        return {};
    }
    return {std::move(**state->outcome), false};
}

// What both modes start with: SIGINT and SIGTERM handled from the first instant, the CAs, the
// credential providers' clients, the AWS side (region, first credentials), then the service. Runs
// `body` on them and returns its exit status; 2, after logging why, when the start fails;
// `interrupted_status` when a signal comes before the start is done.
template <class Body>
int with_started_service(service_config const& config, aws_settings const& aws,
                         std::vector<target_settings> const& targets, environment const& env, int interrupted_status,
                         Body body) {
    run_context context;
    // Before anything can take time: from here on a signal is an orderly stop, never its default action.
    asio::signal_set signals{context, SIGINT, SIGTERM};
    auto trust = make_trusts(config);
    if (!trust) {
        spdlog::critical("starting failed: {}", trust.error().message);
        return 2;
    }
    credential_clients clients{context.get_executor(), trust->aws, config.proxies};
    shutdown_on_exit starting{context};
    auto started = start_aws(context, signals, config, aws, clients);
    if (started.interrupted) return interrupted_status;
    if (!started.access) return 2;
    service running{context, config, aws, env, std::move(*started.access), *trust, clients, signals};
    shutdown_on_exit stopped{context};
    if (auto made = running.set_targets(targets); !made) {
        spdlog::critical("starting failed: {}", made.error().message);
        return 2;
    }
    if (config.proxies.any()) spdlog::info("outbound proxies: {}", running.describe_routes());
    return body(context, running);
}

}  // namespace

int run_service(service_config const& config, aws_settings const& aws, std::vector<target_settings> const& targets,
                environment const& env) {
    return with_started_service(config, aws, targets, env, 0, [&](asio::io_context& context, service& running) {
        http_server_options options;
        options.address = config.listen_address;
        options.port = config.listen_port;
        auto server = http_server::listen(context.get_executor(), options,
                                          [&](std::string_view method, std::string_view target) {
                                              return running.answer(method, target);
                                          });
        if (!server) {
            spdlog::critical("starting failed: {}; choose another LISTEN_PORT or LISTEN_ADDRESS", server.error().message);
            return 2;
        }
        spdlog::info("rancher-ecr-credentials {} started: /healthz and /metrics on {}:{}, {} target{}{}: {}",
                     RANCHER_ECR_CREDENTIALS_VERSION, config.listen_address, (*server)->port(), targets.size(),
                     targets.size() == 1 ? "" : "s",
                     config.targets_file ? " from " + *config.targets_file : std::string{}, running.describe_targets());
        // Supervised as the other top-level tasks: a throw is logged and the server runs again.
        spawn_supervised(context.get_executor(), supervised_task{.name = "the probe server",
                                                                 .run = [s = server->get()] { return s->run(); },
                                                                 .on_failure = {},
                                                                 .keep_running = [&] { return !running.stopping(); },
                                                                 .restart = {}});
        running.start(server->get());
        context.run();
        spdlog::info("stopped");
        return 0;
    });
}

int run_once(service_config const& config, aws_settings const& aws, std::vector<target_settings> const& targets,
             environment const& env) {
    // Interrupted, not every credential was written: 1.
    return with_started_service(config, aws, targets, env, 1, [](asio::io_context& context, service& running) {
        bool ok = false;
        // An exception (a bug) leaves context.run(): main logs it and exits 1.
        asio::co_spawn(context, running.refresh_all_once(), [&](std::exception_ptr error, bool all_ok) {
            if (error) std::rethrow_exception(error);
            ok = all_ok;
            context.stop();  // the signal watch would keep it running
        });
        running.stop_on_signals();
        context.run();
        return ok ? 0 : 1;
    });
}

}  // namespace rancher_ecr
