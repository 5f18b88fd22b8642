#include "app/probe_routes.hpp"

namespace rancher_ecr {

namespace {

http_response text(int status, std::string body) { return {status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)}; }

}  // namespace

http_response answer_probe(std::string_view method, std::string_view target, std::vector<target_status> const& targets,
                           service_metrics& metrics, std::chrono::system_clock::time_point now) {
    auto const path = target.substr(0, target.find('?'));
    enum class route { healthz, ping, prometheus, none };
    auto const which = path == "/healthz" ? route::healthz
                       : path == "/ping"  ? route::ping
                       : path == "/metrics" ? route::prometheus
                                            : route::none;
    if (which == route::none) return text(404, "not found\n");
    if (method != "GET") {
        auto answer = text(405, "method not allowed\n");
        answer.headers.push_back({"Allow", "GET"});
        return answer;
    }
    switch (which) {
        case route::healthz: {
            auto report = evaluate_health(targets, now);
            return {report.http_status, {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}},
                    std::move(report.body)};
        }
        case route::ping: return text(200, "pong\n");
        case route::prometheus:
            return {200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, metrics.render()};
        case route::none: break;
    }
    return text(404, "not found\n");
}

}  // namespace rancher_ecr
