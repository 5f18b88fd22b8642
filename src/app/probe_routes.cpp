#include "app/probe_routes.hpp"

#include <algorithm>

namespace rancher_ecr {

namespace {

std::shared_ptr<http_response const> text(int status, std::string body, std::vector<http_header> extra = {}) {
    http_response answer{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
    for (auto& header : extra) answer.headers.push_back(std::move(header));
    return std::make_shared<http_response const>(std::move(answer));
}

// The first token expiry after `now`: when a target's status turns "expired" by time alone.
std::optional<std::chrono::system_clock::time_point> next_expiry(std::span<target_status const> targets,
                                                                 std::chrono::system_clock::time_point now) {
    std::optional<std::chrono::system_clock::time_point> next;
    for (auto const& target : targets)
        for (auto const& registry : target.registries)
            if (registry.token_expires_at && *registry.token_expires_at > now &&
                (!next || *registry.token_expires_at < *next))
                next = registry.token_expires_at;
    return next;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The value of `name` in a query ("target=prod%2Fenv-1&x=y"), percent-decoded; nullopt when absent.
std::optional<std::string> query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        auto const amp = query.find('&');
        auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        auto const eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        std::string value;
        auto raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '%' && i + 2 < raw.size() && hex_digit(raw[i + 1]) >= 0 &&
                hex_digit(raw[i + 2]) >= 0) {
                value += static_cast<char>(hex_digit(raw[i + 1]) * 16 + hex_digit(raw[i + 2]));
                i += 2;
            } else {
                value += raw[i] == '+' ? ' ' : raw[i];
            }
        }
        return value;
    }
    return std::nullopt;
}

}  // namespace

probe_answers::probe_answers(status_list targets, service_metrics& metrics, health_layout layout)
    : targets_{std::move(targets)},
      metrics_{metrics},
      layout_{layout},
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
        case route::healthz: {
            auto const question = target.find('?');
            auto const name = question == std::string_view::npos ? std::nullopt
                                                                 : query_value(target.substr(question + 1), "target");
            if (!name) return health_answer(whole_health_, targets_(), now);
            auto cached = target_health_.find(*name);
            if (cached != target_health_.end() && is_current(cached->second, now)) return cached->second.answer;
            auto all = targets_();
            auto one = std::ranges::find(all, *name, &target_status::name);
            if (one == all.end()) return not_found_;
            if (cached == target_health_.end()) {
                if (target_health_.size() >= 4096) target_health_.clear();  // a bound, whatever probes ask
                cached = target_health_.emplace(*name, cached_health{}).first;
            }
            return health_answer(cached->second, std::span{&*one, 1}, now);
        }
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

bool probe_answers::is_current(cached_health const& cache, std::chrono::system_clock::time_point now) {
    return cache.answer && !(cache.valid_until && now >= *cache.valid_until);
}

std::shared_ptr<http_response const> probe_answers::health_answer(cached_health& cache,
                                                                  std::span<target_status const> targets,
                                                                  std::chrono::system_clock::time_point now) {
    if (is_current(cache, now)) return cache.answer;
    auto report = evaluate_health(targets, now, layout_);
    cache.answer = std::make_shared<http_response const>(
        http_response{report.http_status,
                      {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}},
                      std::move(report.body)});
    cache.valid_until = next_expiry(targets, now);
    return cache.answer;
}

}  // namespace rancher_ecr
