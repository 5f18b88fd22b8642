#pragma once

#include <chrono>
#include <string_view>
#include <vector>

#include "net/http_message.hpp"
#include "obs/health.hpp"
#include "obs/metrics.hpp"

namespace rancher_ecr {

// The probe server's routes, in one table: GET /healthz (health JSON, 200 or 503), GET /ping
// (200, as the original tool answered), GET /metrics (Prometheus text 0.0.4); any other path
// 404, any other method 405. Error bodies reveal nothing internal.
http_response answer_probe(std::string_view method, std::string_view target, std::vector<target_status> const& targets,
                           service_metrics& metrics, std::chrono::system_clock::time_point now);

}  // namespace rancher_ecr
