#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "net/http_message.hpp"
#include "obs/health.hpp"
#include "obs/metrics.hpp"

namespace rancher_ecr {

// The probe server's routes, in one table: GET /healthz (health JSON, 200 or 503; with
// ?target=NAME that target's alone, 404 for a name not known), GET /ping
// (200, as the original tool answered), GET /metrics (Prometheus text 0.0.4); any other path
// 404, any other method 405. Error bodies reveal nothing internal.
//
// Probes come far more often than anything changes, so each answer is built once and handed out
// until what it reports changes: the health answer until targets_changed() or until the earliest
// token expiry passes (the status turns "expired" then), the metrics answer until a metric
// changes. An answer handed out never changes; a new one replaces it.
class probe_answers {
public:
    // The targets' statuses, asked when an answer is built (at most once per change).
    using status_list = std::function<std::span<target_status const>()>;

    // `metrics` must outlive this object. `layout`: whether /healthz lists every account flat
    // beside `targets` (as configured from the environment) or `targets` alone (a targets file).
    probe_answers(status_list targets, service_metrics& metrics,
                  health_layout layout = health_layout::with_flat_registries);

    // To be called after changing any target's status, or the set of targets.
    void targets_changed() {
        whole_health_ = {};
        target_health_.clear();
    }

    std::shared_ptr<http_response const> answer(std::string_view method, std::string_view target,
                                                std::chrono::system_clock::time_point now);

private:
    struct cached_health {
        std::shared_ptr<http_response const> answer;  // null: to be built at the next /healthz
        std::optional<std::chrono::system_clock::time_point> valid_until;  // the next expiry
    };
    static bool is_current(cached_health const& cache, std::chrono::system_clock::time_point now);
    // The cached answer while current, else a new one for `targets`, cached.
    std::shared_ptr<http_response const> health_answer(cached_health& cache, std::span<target_status const> targets,
                                                       std::chrono::system_clock::time_point now);

    status_list targets_;
    service_metrics& metrics_;
    health_layout layout_;
    cached_health whole_health_;
    std::map<std::string, cached_health, std::less<>> target_health_;  // by ?target=
    std::shared_ptr<http_response const> metrics_answer_;
    std::uint64_t metrics_generation_ = 0;  // of metrics_answer_
    std::shared_ptr<http_response const> ping_, not_found_, not_allowed_;
};

}  // namespace rancher_ecr
