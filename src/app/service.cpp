#include "app/service.hpp"

#include <algorithm>
#include <csignal>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "app/probe_routes.hpp"
#include "app/supervised_task.hpp"
#include "aws/credential_chain.hpp"
#include "aws/ecr_client.hpp"
#include "aws/ecr_endpoint.hpp"
#include "net/http_server.hpp"
#include "net/https_client.hpp"
#include "net/proxy.hpp"
#include "net/timed_transport.hpp"
#include "obs/health.hpp"
#include "obs/logging.hpp"
#include "obs/metrics.hpp"
#include "peer_text.hpp"
#include "rancher/cattle_writer.hpp"
#include "rancher/discovering_writer.hpp"
#include "rancher/norman_writer.hpp"
#include "rancher/rancher_client.hpp"
#include "refresh/refresh_schedule.hpp"
#include "refresh/refresh_task.hpp"
#include "refresh/target_refresh.hpp"
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

// A CA bundle that cannot be loaded is a configuration error, reported at start.
result<trusts> make_trusts(service_config const& config) {
    auto system = std::make_shared<tls_trust>();
    auto with_bundle = [&](std::optional<std::string> const& bundle) -> result<std::shared_ptr<tls_trust>> {
        if (!bundle) return system;
        auto trust = std::make_shared<tls_trust>(*bundle);
        if (auto loaded = trust->context(); !loaded) return loaded.error();
        return trust;
    };
    auto aws = with_bundle(config.ca_bundle);
    if (!aws) return aws.error();
    auto rancher = with_bundle(config.rancher_ca_bundle);
    if (!rancher) return rancher.error();
    return trusts{std::move(*aws), std::move(*rancher)};
}

// The writer CATTLE_URL asks for: Cattle's (1.x), norman's (2.x), or, for a bare origin, the one
// that GET /v3 finds.
std::unique_ptr<credential_writer> make_writer(service_config const& config, http_transport& transport,
                                               std::unique_ptr<rancher_client>& cattle) {
    auto make = [&config, &transport, &cattle](rancher_generation generation) -> std::unique_ptr<credential_writer> {
        if (generation == rancher_generation::cattle) {
            // Only a bare origin gets here with them: load_config refuses them with a 1.x URL.
            if (!config.rancher_project.empty() || !config.rancher_namespaces.empty() ||
                config.rancher_credential_name)
                spdlog::warn("RANCHER_PROJECT, RANCHER_NAMESPACE and RANCHER_CREDENTIAL_NAME are for Rancher 2.x "
                             "and are ignored: Rancher at {} speaks the 1.x API",
                             config.rancher_url->origin());
            cattle = std::make_unique<rancher_client>(transport, *config.rancher_url, config.rancher_access_key,
                                                      config.rancher_secret_key);
            return std::make_unique<cattle_writer>(*cattle, config.auto_create);
        }
        url api = *config.rancher_url;
        if (!config.rancher_api) api.target = "/v3";
        else if (auto choice = classify_cattle_url(api)) api = choice->api;
        return std::make_unique<norman_writer>(
            transport, std::move(api), config.rancher_access_key, config.rancher_secret_key,
            norman_place{config.rancher_project, config.rancher_namespaces, config.rancher_credential_name,
                         config.auto_create});
    };
    if (config.rancher_api) return make(*config.rancher_api);
    return std::make_unique<discovering_writer>(transport, *config.rancher_url, config.rancher_access_key,
                                                config.rancher_secret_key, make);
}

std::string seconds_text(std::chrono::milliseconds delay) {
    return std::to_string(delay.count() / 1000) + "." + std::to_string(delay.count() % 1000 / 100) + " s";
}

// "Rancher 1.x (Cattle)", "Rancher 2.x (norman v3), project local/Default, namespaces apps,jobs", or
// for a bare origin "Rancher (its API is asked with GET /v3)".
std::string describe_rancher_api(service_config const& config) {
    if (!config.rancher_api) return "Rancher (its API is asked with GET /v3 at the first refresh)";
    if (*config.rancher_api == rancher_generation::cattle) return "Rancher 1.x (Cattle)";
    std::string text = "Rancher 2.x (norman v3), project " + config.rancher_project;
    for (std::size_t i = 0; i < config.rancher_namespaces.size(); ++i)
        text += (i == 0 ? ", namespaces " : ",") + config.rancher_namespaces[i];
    return text;
}

char const* signal_name(int signal_number) { return signal_number == SIGTERM ? "SIGTERM" : "SIGINT"; }

// The parts of the running service and the state the probes report. One io_context thread
// owns all of it.
class service {
public:
    // `aws`: the region and the credentials set_up_aws resolved (the configuration's region may be empty).
    // `credential_clients`: those behind aws.credentials, whose idle connections go after each refresh.
    // `signals`: SIGINT and SIGTERM, watched from before the start (see with_started_service).
    service(asio::io_context& context, service_config const& config, aws_access aws, trusts const& trust,
            credential_clients& credential_clients, asio::signal_set& signals)
        : context_{context},
          signals_{signals},
          config_{config},
          aws_{std::move(aws)},
          credential_clients_{credential_clients},
          ecr_https_{context.get_executor(), https_client_options{.trust = trust.aws, .proxies = config.proxies}},
          rancher_https_{context.get_executor(),
                         https_client_options{.trust = trust.rancher, .proxies = config.proxies}},
          ecr_transport_{ecr_https_, [this](auto elapsed) { metrics_.ecr_request(elapsed); }},
          rancher_transport_{rancher_https_, [this](auto elapsed) { metrics_.rancher_request(elapsed); }},
          ecr_{ecr_transport_, aws_.region, ecr_endpoint(aws_.region, config.ecr_endpoint)},
          writer_{make_writer(config, rancher_transport_, cattle_client_)},
          metrics_{RANCHER_ECR_CREDENTIALS_VERSION},
          random_{std::random_device{}()} {
        policy_.interval = config.refresh_interval;
        if (config.registry_ids.empty()) {
            add_target({"default"}, {});
        } else if (config.rancher_api == rancher_generation::cattle) {
            // Rancher 1.x: one target per registry id, each on its own schedule: one account
            // failing does not hold back the others.
            for (auto const& id : config.registry_ids) add_target({id}, {id});
        } else {
            // Rancher 2.x (or not known yet): one credential may hold the hosts of several accounts,
            // which must be written together from tokens of the same GetAuthorizationToken call,
            // so the accounts are one refresh unit with one schedule (a status each).
            add_target(config.registry_ids, config.registry_ids);
        }
    }

    // One refresh of every target, one after the other; true when all succeeded. A stop (SIGINT,
    // SIGTERM) leaves the targets not yet begun undone: false then.
    asio::awaitable<bool> refresh_all_once() {
        bool all_ok = true;
        for (auto& target : targets_) {
            if (stopping_) co_return false;
            co_await tracked_refresh(*target);
            for (auto index : target->statuses) all_ok = all_ok && statuses_[index].last_refresh_ok;
        }
        co_return all_ok && !stopping_;
    }

    // Starts the top-level tasks, each supervised (spawn_supervised): a refresh task per target and
    // the signal watch. A refresh task that throws (a bug) is logged, its target's health turns
    // failing with the exception's message (503 on /healthz), and it starts again after a backoff
    // (1 s doubling to 5 minutes).
    void start(http_server* server) {
        server_ = server;
        for (auto& target : targets_) spawn_supervised(context_.get_executor(), refresh_task(*target));
        stop_on_signals();
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
        return "ECR " + describe_route(proxies, ecr_.endpoint()) + ", STS " +
               describe_route(proxies, sts_endpoint(aws_.region, config_.sts_endpoint)) + ", Rancher " +
               describe_route(proxies, *config_.rancher_url);
    }

    std::string describe_targets() const {
        std::string text;
        for (auto const& t : targets_) text += (text.empty() ? "" : ", ") + t->name;
        return text;
    }

private:
    // One refresh unit: the registry ids whose tokens are fetched in one call and written together.
    struct refresh_target {
        std::vector<std::size_t> statuses;  // into statuses_: one per registry id ("default" for none)
        std::vector<std::string> registry_ids;
        std::unique_ptr<asio::steady_timer> timer;
        target_refresh machine;
        std::string name;  // for the log: the ids, comma-separated
        bool expiry_warned = false;
    };

    void add_target(std::vector<std::string> const& status_names, std::vector<std::string> registry_ids) {
        std::vector<std::size_t> indices;
        std::string name;
        for (auto const& status_name : status_names) {
            statuses_.push_back(target_status{status_name, {}, false, false, {}, {}, {}, {}, {}});
            indices.push_back(statuses_.size() - 1);
            name += (name.empty() ? "" : ",") + status_name;
        }
        targets_.push_back(std::make_unique<refresh_target>(
            refresh_target{std::move(indices), std::move(registry_ids), std::make_unique<asio::steady_timer>(context_),
                           target_refresh{policy_}, std::move(name), false}));
    }

    // The status of `registry_host` among the target's: the one whose registry id starts the host
    // (<account>.dkr.ecr...), else the first.
    target_status& status_of(refresh_target const& target, std::string_view registry_host) {
        for (auto index : target.statuses) {
            auto const& id = statuses_[index].name;
            if (registry_host.size() > id.size() && registry_host.starts_with(id) && registry_host[id.size()] == '.')
                return statuses_[index];
        }
        return statuses_[target.statuses.front()];
    }

    // One refresh of `target`, the steps as its target_refresh machine decides them; returns the
    // wait before the next one.
    asio::awaitable<wait_step> refresh(refresh_target& target) {
        metrics_.refresh_attempted();
        // Every Rancher request carries the API keys: an error answer that echoes them is not quoted.
        mask_in_peer_text(config_.rancher_access_key);
        mask_in_peer_text(config_.rancher_secret_key);
        auto const started = std::chrono::system_clock::now();
        refresh_outcome outcome;
        auto step = target.machine.start(started);
        if (std::holds_alternative<fetch_tokens_step>(step)) {
            if (auto credentials = co_await aws_.credentials->credentials(); !credentials) {
                // Cached: the provider is asked only when the credentials near their expiration.
                spdlog::error("getting AWS credentials failed: {}", describe(credentials.error()));
                outcome.problem = credentials.error();
                outcome.reason = refresh_failure_reason::ecr;  // no ECR call without them
            } else if (auto tokens = co_await fetch_ecr_tokens(ecr_, *credentials, target.registry_ids); !tokens) {
                outcome.problem = tokens.error();
                outcome.reason = refresh_failure_reason::ecr;
            } else {
                step = target.machine.tokens_fetched(std::move(*tokens), started);
            }
        }
        if (auto* write = std::get_if<write_tokens_step>(&step)) {
            // A retry of the write keeps the tokens: ECR throttles GetAuthorizationToken.
            if (write->kept) spdlog::info("{}: writing the tokens ECR gave earlier again", target.name);
            outcome = co_await write_tokens(*writer_, std::move(write->tokens));
        }
        // The next refresh is hours away: by then every host has closed these connections.
        ecr_https_.close_idle_connections();
        rancher_https_.close_idle_connections();
        credential_clients_.close_idle_connections();
        auto const now = std::chrono::system_clock::now();
        std::uniform_real_distribution<double> unit{0.0, 1.0};
        auto wait = target.machine.finished(outcome, now, unit(random_));
        for (std::size_t i = 0; i < outcome.tokens.size(); ++i) {
            auto const& token = outcome.tokens[i];
            auto const& expiry = wait.expiries[i];
            if (expiry.reported_ignored && !target.expiry_warned) {
                spdlog::warn("ECR gave registry {} a token that claims to expire at {}; that cannot be right, so "
                             "its documented 12-hour lifetime is assumed",
                             token.registry_host, format_utc(token.expires_at));
                target.expiry_warned = true;
            }
            metrics_.token_written(token.registry_host, token.credential, expiry.at, now);
            auto& status = status_of(target, token.registry_host);
            status.registry_host = token.registry_host;
            status.token_expires_at = expiry.at;
            status.credential = token.credential;
            status.namespace_name = token.namespace_name;
        }
        for (auto index : target.statuses) {
            auto& status = statuses_[index];
            status.attempted = true;
            status.last_refresh_ok = outcome.ok();
            if (outcome.ok()) {
                status.last_success = now;
                status.last_error.clear();
            } else {
                status.last_error = describe(*outcome.problem);
            }
        }
        if (outcome.ok()) {
            // With several accounts, the unlabelled series claims a success only once all have one.
            if (std::ranges::all_of(statuses_, &target_status::last_refresh_ok)) metrics_.every_target_succeeded(now);
        } else {
            metrics_.refresh_failed(to_string(outcome.reason));
        }
        probes_.targets_changed();
        co_return wait;
    }

    // refresh() counted in refreshes_under_way_, so that a stop waits only while one is. Not by a
    // guard object: a coroutine abandoned at exit is destroyed after this service.
    asio::awaitable<wait_step> tracked_refresh(refresh_target& target) {
        ++refreshes_under_way_;
        std::exception_ptr error;
        wait_step wait{};
        try {
            wait = co_await refresh(target);
        } catch (...) {
            error = std::current_exception();
        }
        if (--refreshes_under_way_ == 0 && stopping_) grace_.cancel();  // nothing left to wait for
        if (error) std::rethrow_exception(error);
        co_return wait;
    }

    // The target's refresh_forever under supervision: an exception turns its health failing.
    supervised_task refresh_task(refresh_target& target) {
        return supervised_task{
            .name = "the refresh task of " + target.name,
            .run = [this, &target] { return refresh_forever(target); },
            .on_failure =
                [this, &target](std::string const& error) {
                    for (auto index : target.statuses) {
                        auto& status = statuses_[index];
                        status.attempted = true;
                        status.last_refresh_ok = false;
                        status.last_error = "the refresh task failed on an unexpected error (" + error +
                                            "); it starts again after a backoff";
                    }
                    probes_.targets_changed();
                },
            .keep_running = [this] { return !stopping_; },
            .restart = {}};
    }

    asio::awaitable<void> refresh_forever(refresh_target& target) {
        while (!stopping_) {
            auto wait = co_await tracked_refresh(target);
            if (stopping_) break;
            spdlog::info("{}: next refresh in {}", target.name, seconds_text(wait.delay));
            target.timer->expires_after(wait.delay);
            co_await target.timer->async_wait(use_tuple);
        }
    }

    asio::awaitable<void> stop_on_signal() {
        auto [ec, signal_number] = co_await signals_.async_wait(use_tuple);
        if (ec) co_return;
        spdlog::info("received {}: stopping", signal_name(signal_number));
        stopping_ = true;
        if (server_) server_->stop();
        for (auto& target : targets_) target->timer->cancel();
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
    aws_access aws_;
    credential_clients& credential_clients_;
    https_client ecr_https_;
    https_client rancher_https_;
    timed_transport ecr_transport_;
    timed_transport rancher_transport_;
    ecr_client ecr_;
    std::unique_ptr<rancher_client> cattle_client_;  // Rancher 1.x: behind writer_
    std::unique_ptr<credential_writer> writer_;
    service_metrics metrics_;
    schedule_policy policy_;
    std::mt19937_64 random_;
    std::vector<target_status> statuses_;
    std::vector<std::unique_ptr<refresh_target>> targets_;
    probe_answers probes_{statuses_, metrics_};
    http_server* server_ = nullptr;
    bool stopping_ = false;
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
int with_started_service(service_config const& config, aws_settings const& aws, int interrupted_status, Body body) {
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
    service running{context, config, std::move(*started.access), *trust, clients, signals};
    shutdown_on_exit stopped{context};
    if (config.proxies.any()) spdlog::info("outbound proxies: {}", running.describe_routes());
    return body(context, running);
}

}  // namespace

int run_service(service_config const& config, aws_settings const& aws) {
    return with_started_service(config, aws, 0, [&](asio::io_context& context, service& running) {
        http_server_options options;
        options.address = config.listen_address;
        options.port = config.listen_port;
        auto server = http_server::listen(context.get_executor(), options,
                                          [&](std::string_view method, std::string_view target) {
                                              return running.answer(method, target);
                                          });
        if (!server) {
            spdlog::critical("starting failed: {}", server.error().message);
            return 2;
        }
        spdlog::info(
            "rancher-ecr-credentials {} started: /healthz and /metrics on {}:{}, {} at {}, ECR in {} for {}",
            RANCHER_ECR_CREDENTIALS_VERSION, config.listen_address, (*server)->port(), describe_rancher_api(config),
            config.rancher_url->origin(), running.region(), running.describe_targets());
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

int run_once(service_config const& config, aws_settings const& aws) {
    // Interrupted, not every credential was written: 1.
    return with_started_service(config, aws, 1, [](asio::io_context& context, service& running) {
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
