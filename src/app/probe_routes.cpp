#include "app/probe_routes.hpp"

namespace rancher_ecr {

namespace {

std::shared_ptr<http_response const> text(int status, std::string body, std::vector<http_header> extra = {}) {
    http_response answer{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
    for (auto& header : extra) answer.headers.push_back(std::move(header));
    return std::make_shared<http_response const>(std::move(answer));
}

// The first token expiry after `now`: when a target's status turns "expired" by time alone.
std::optional<std::chrono::system_clock::time_point> next_expiry(std::vector<target_status> const& targets,
                                                                 std::chrono::system_clock::time_point now) {
    std::optional<std::chrono::system_clock::time_point> next;
    for (auto const& target : targets)
        if (target.token_expires_at && *target.token_expires_at > now && (!next || *target.token_expires_at < *next))
            next = target.token_expires_at;
    return next;
}

}  // namespace

probe_answers::probe_answers(std::vector<target_status> const& targets, service_metrics& metrics)
    : targets_{targets},
      metrics_{metrics},
      ping_{text(200, "pong\n")},
      not_found_{text(404, "not found\n")},
      not_allowed_{text(405, "method not allowed\n", {{"Allow", "GET"}})} {}

std::shared_ptr<http_response const> probe_answers::answer(std::string_view method, std::string_view target,
                                                           std::chrono::system_clock::time_point now) {
    auto const path = target.substr(0, target.find('?'));
    enum class route { healthz, ping, prometheus, none };
    auto const which = path == "/healthz"   ? route::healthz
                       : path == "/ping"    ? route::ping
                       : path == "/metrics" ? route::prometheus
                                            : route::none;
    if (which == route::none) return not_found_;
    if (method != "GET") return not_allowed_;
    switch (which) {
        case route::healthz:
            if (!health_ || (health_valid_until_ && now >= *health_valid_until_)) {
                auto report = evaluate_health(targets_, now);
                health_ = std::make_shared<http_response const>(http_response{
                    report.http_status,
                    {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}},
                    std::move(report.body)});
                health_valid_until_ = next_expiry(targets_, now);
            }
            return health_;
        case route::ping: return ping_;
        case route::prometheus:
            if (!metrics_answer_ || metrics_generation_ != metrics_.generation()) {
                metrics_answer_ = std::make_shared<http_response const>(http_response{
                    200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, metrics_.render()});
                metrics_generation_ = metrics_.generation();
            }
            return metrics_answer_;
        case route::none: break;
    }
    return not_found_;
}

}  // namespace rancher_ecr
