#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "app/config.hpp"

namespace rancher_ecr {

// Sends the service's log lines to stderr through spdlog, as text or as one JSON object per
// line, at `level` and above. The one place that configures spdlog. Messages read
// "<action> failed: <reason>"; no caller ever formats a token, a secret key or an
// Authorization header into one.
void configure_logging(log_level level, log_format format);

// One JSON log line (without the newline): {"time":"...Z","level":"info","message":"..."}.
std::string format_json_line(std::chrono::system_clock::time_point time, std::string_view level,
                             std::string_view message);

// ISO 8601 UTC with milliseconds: 2026-11-28T10:00:00.123Z.
std::string format_utc(std::chrono::system_clock::time_point time);

}  // namespace rancher_ecr
