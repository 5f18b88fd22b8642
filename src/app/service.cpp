#include "app/service.hpp"

#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "app/probe_routes.hpp"
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
#include "rancher/rancher_client.hpp"
#include "refresh/refresh_schedule.hpp"
#include "refresh/refresh_task.hpp"
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
    if (!config.ca_bundle) return trusts{system, system};
    auto aws = std::make_shared<tls_trust>(*config.ca_bundle);
    if (auto loaded = aws->context(); !loaded) return loaded.error();
    return trusts{std::move(aws), std::move(system)};
}

std::string seconds_text(std::chrono::milliseconds delay) {
    return std::to_string(delay.count() / 1000) + "." + std::to_string(delay.count() % 1000 / 100) + " s";
}

// The parts of the running service and the state the probes report. One io_context thread
// owns all of it.
class service {
public:
    // `aws`: the region and the credentials set_up_aws resolved (the configuration's region may be empty).
    // `credential_clients`: those behind aws.credentials, whose idle connections go after each refresh.
    service(asio::io_context& context, service_config const& config, aws_access aws, trusts const& trust,
            credential_clients& credential_clients)
        : context_{context},
          config_{config},
          aws_{std::move(aws)},
          credential_clients_{credential_clients},
          ecr_https_{context.get_executor(), https_client_options{.trust = trust.aws, .proxies = config.proxies}},
          rancher_https_{context.get_executor(),
                         https_client_options{.trust = trust.rancher, .proxies = config.proxies}},
          ecr_transport_{ecr_https_, [this](auto elapsed) { metrics_.ecr_request(elapsed); }},
          rancher_transport_{rancher_https_, [this](auto elapsed) { metrics_.rancher_request(elapsed); }},
          ecr_{ecr_transport_, aws_.region, ecr_endpoint(aws_.region, config.ecr_endpoint)},
          rancher_{rancher_transport_, *config.rancher_url, config.rancher_access_key, config.rancher_secret_key},
          metrics_{RANCHER_ECR_CREDENTIALS_VERSION},
          random_{std::random_device{}()} {
        policy_.interval = config.refresh_interval;
        // One target per registry id, each on its own schedule: one account failing does not
        // hold back the others.
        if (config.registry_ids.empty()) {
            add_target("default", {});
        } else {
            for (auto const& id : config.registry_ids) add_target(id, {id});
        }
    }

    // One refresh of every target, one after the other; true when all succeeded.
    asio::awaitable<bool> refresh_all_once() {
        bool all_ok = true;
        for (auto& target : targets_) all_ok = co_await refresh(*target) && all_ok;
        co_return all_ok;
    }

    void start(http_server* server) {
        server_ = server;
        for (auto& target : targets_) asio::co_spawn(context_, refresh_forever(*target), asio::detached);
        asio::co_spawn(context_, stop_on_signal(), asio::detached);
    }

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
        for (auto const& t : targets_) text += (text.empty() ? "" : ", ") + t->status().name;
        return text;
    }

private:
    struct refresh_target {
        std::size_t index;  // into statuses_
        std::vector<std::string> registry_ids;
        std::unique_ptr<asio::steady_timer> timer;
        int failures = 0;
        bool expiry_warned = false;
        std::vector<target_status>* statuses;
        target_status& status() const { return (*statuses)[index]; }
    };

    void add_target(std::string name, std::vector<std::string> registry_ids) {
        statuses_.push_back(target_status{std::move(name), {}, false, false, {}, {}, {}});
        targets_.push_back(std::make_unique<refresh_target>(refresh_target{
            statuses_.size() - 1, std::move(registry_ids), std::make_unique<asio::steady_timer>(context_), 0, false,
            &statuses_}));
    }

    asio::awaitable<bool> refresh(refresh_target& target) {
        metrics_.refresh_attempted();
        // Cached: the provider is asked only when the credentials near their expiration.
        refresh_outcome outcome;
        auto credentials = co_await aws_.credentials->credentials();
        if (credentials) {
            outcome = co_await refresh_registry_credentials(ecr_, rancher_, *credentials, target.registry_ids,
                                                            config_.auto_create);
        } else {
            spdlog::error("getting AWS credentials failed: {}", describe(credentials.error()));
            outcome.problem = credentials.error();
            outcome.reason = refresh_failure_reason::ecr;  // no ECR call without them
        }
        // The next refresh is hours away: by then every host has closed these connections.
        ecr_https_.close_idle_connections();
        rancher_https_.close_idle_connections();
        credential_clients_.close_idle_connections();
        auto const now = std::chrono::system_clock::now();
        auto& status = target.status();
        status.attempted = true;
        for (auto const& token : outcome.tokens) {
            auto expiry = assess_expiry(now, token.expires_at, policy_);
            if (expiry.reported_ignored && !target.expiry_warned) {
                spdlog::warn("ECR gave registry {} a token that claims to expire at {}; that cannot be right, so "
                             "its documented 12-hour lifetime is assumed",
                             token.registry_host, format_utc(token.expires_at));
                target.expiry_warned = true;
            }
            metrics_.token_written(token.registry_host, expiry.at);
            status.registry_host = token.registry_host;
            status.token_expires_at = expiry.at;
        }
        if (outcome.ok()) {
            status.last_refresh_ok = true;
            status.last_success = now;
            status.last_error.clear();
            target.failures = 0;
            metrics_.refresh_succeeded(now);
        } else {
            status.last_refresh_ok = false;
            status.last_error = describe(*outcome.problem);
            ++target.failures;
            metrics_.refresh_failed(to_string(outcome.reason));
        }
        probes_.targets_changed();
        co_return outcome.ok();
    }

    asio::awaitable<void> refresh_forever(refresh_target& target) {
        std::uniform_real_distribution<double> unit{0.0, 1.0};
        while (!stopping_) {
            bool ok = co_await refresh(target);
            auto const now = std::chrono::system_clock::now();
            auto const& status = target.status();
            auto delay = ok && status.token_expires_at
                             ? delay_after_success(now, *status.token_expires_at, policy_)
                             : delay_after_failure(target.failures, now, status.token_expires_at, policy_,
                                                   [&] { return unit(random_); });
            if (stopping_) break;
            spdlog::info("{}: next refresh in {}", status.name, seconds_text(delay));
            target.timer->expires_after(delay);
            co_await target.timer->async_wait(use_tuple);
        }
    }

    asio::awaitable<void> stop_on_signal() {
        asio::signal_set signals{context_, SIGINT, SIGTERM};
        auto [ec, signal_number] = co_await signals.async_wait(use_tuple);
        if (ec) co_return;
        spdlog::info("received {}: stopping", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
        stopping_ = true;
        if (server_) server_->stop();
        for (auto& target : targets_) target->timer->cancel();
        // Whatever is still under way (a refresh waiting on the network) gets a short grace.
        asio::steady_timer grace{context_, shutdown_grace};
        co_await grace.async_wait(use_tuple);
        context_.stop();
    }

    asio::io_context& context_;
    service_config const& config_;
    aws_access aws_;
    credential_clients& credential_clients_;
    https_client ecr_https_;
    https_client rancher_https_;
    timed_transport ecr_transport_;
    timed_transport rancher_transport_;
    ecr_client ecr_;
    rancher_client rancher_;
    service_metrics metrics_;
    schedule_policy policy_;
    std::mt19937_64 random_;
    std::vector<target_status> statuses_;
    std::vector<std::unique_ptr<refresh_target>> targets_;
    probe_answers probes_{statuses_, metrics_};
    http_server* server_ = nullptr;
    bool stopping_ = false;
};

// Runs set_up_aws to completion on `context` (each of its steps has its own deadline); nullopt,
// after logging why, when it failed.
std::optional<aws_access> start_aws(asio::io_context& context, service_config const& config, aws_settings const& aws,
                                    credential_clients& clients) {
    std::optional<result<aws_access>> outcome;
    asio::co_spawn(context, set_up_aws(config, aws, clients.transports()),
                   [&](std::exception_ptr error, result<aws_access> access) {
                       if (error) std::rethrow_exception(error);
                       outcome.emplace(std::move(access));
                   });
    while (!outcome && context.run_one() > 0) {
    }
    if (context.stopped()) context.restart();
    if (!outcome) throw std::logic_error("set_up_aws did not complete");
    if (!*outcome) {
        spdlog::critical("starting failed: {}", describe(outcome->error()));
        return std::nullopt;
    }
    return std::move(**outcome);
}

// What both modes start with: the CAs, the credential providers' clients, the AWS side (region,
// first credentials), then the service. Runs `body` on them and returns its exit status, or 2,
// after logging why, when the start fails.
template <class Body>
int with_started_service(service_config const& config, aws_settings const& aws, Body body) {
    asio::io_context context;
    auto trust = make_trusts(config);
    if (!trust) {
        spdlog::critical("starting failed: {}", trust.error().message);
        return 2;
    }
    credential_clients clients{context.get_executor(), trust->aws, config.proxies};
    auto access = start_aws(context, config, aws, clients);
    if (!access) return 2;
    service running{context, config, std::move(*access), *trust, clients};
    if (config.proxies.any()) spdlog::info("outbound proxies: {}", running.describe_routes());
    return body(context, running);
}

}  // namespace

int run_service(service_config const& config, aws_settings const& aws) {
    return with_started_service(config, aws, [&](asio::io_context& context, service& running) {
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
            "rancher-ecr-credentials {} started: /healthz and /metrics on {}:{}, Rancher at {}, ECR in {} for {}",
            RANCHER_ECR_CREDENTIALS_VERSION, config.listen_address, (*server)->port(), config.rancher_url->origin(),
            running.region(), running.describe_targets());
        asio::co_spawn(context, (*server)->run(), asio::detached);
        running.start(server->get());
        context.run();
        spdlog::info("stopped");
        return 0;
    });
}

int run_once(service_config const& config, aws_settings const& aws) {
    return with_started_service(config, aws, [](asio::io_context& context, service& running) {
        bool ok = false;
        asio::co_spawn(context, running.refresh_all_once(), [&](std::exception_ptr error, bool all_ok) {
            if (error) std::rethrow_exception(error);
            ok = all_ok;
        });
        context.run();
        return ok ? 0 : 1;
    });
}

}  // namespace rancher_ecr
