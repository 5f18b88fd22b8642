#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "net/http_message.hpp"
#include "obs/health.hpp"
#include "obs/metrics.hpp"

namespace rancher_ecr {

// The probe server's routes, in one table: GET /healthz (health JSON, 200 or 503), GET /ping
// (200, as the original tool answered), GET /metrics (Prometheus text 0.0.4); any other path
// 404, any other method 405. Error bodies reveal nothing internal.
//
// Probes come far more often than anything changes, so each answer is built once and handed out
// until what it reports changes: the health answer until targets_changed() or until the earliest
// token expiry passes (the status turns "expired" then), the metrics answer until a metric
// changes. An answer handed out never changes; a new one replaces it.
class probe_answers {
public:
    // Both must outlive this object.
    probe_answers(std::vector<target_status> const& targets, service_metrics& metrics);

    // To be called after changing any target's status.
    void targets_changed() { health_.reset(); }

    std::shared_ptr<http_response const> answer(std::string_view method, std::string_view target,
                                                std::chrono::system_clock::time_point now);

private:
    std::vector<target_status> const& targets_;
    service_metrics& metrics_;
    std::shared_ptr<http_response const> health_;  // null: to be built at the next /healthz
    std::optional<std::chrono::system_clock::time_point> health_valid_until_;  // the next expiry
    std::shared_ptr<http_response const> metrics_answer_;
    std::uint64_t metrics_generation_ = 0;  // of metrics_answer_
    std::shared_ptr<http_response const> ping_, not_found_, not_allowed_;
};

}  // namespace rancher_ecr
