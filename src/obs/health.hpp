#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace rancher_ecr {

// What the service knows about one refresh target (one registry id, or the caller's own).
struct target_status {
    std::string name;  // the registry id, or "default"
    std::string registry_host;  // of the last token written; empty before
    bool attempted = false;     // a refresh has completed, successfully or not
    bool last_refresh_ok = false;
    std::optional<std::chrono::system_clock::time_point> last_success;
    std::optional<std::chrono::system_clock::time_point> token_expires_at;  // of the token in Rancher
    std::string last_error;  // of the last refresh, empty after a success; never holds a secret
    std::string credential;  // Rancher 2.x: the name of the credential holding the host; empty for 1.x
    std::optional<std::string> namespace_name;  // Rancher 2.x namespaced credentials: the namespaces
};

struct health_report {
    int http_status = 503;
    std::string body;  // JSON
};

// Healthy (200) when every target's last refresh succeeded and its token in Rancher has not
// expired; otherwise 503, with "status" saying why, worst first: "expired" (the token in Rancher
// has expired), "failing" (the last refresh failed), "starting" (no refresh has completed yet). The body:
// {"status":..,"last_success":..,"token_expires_at":..,"last_error":..,"registries":[...]},
// times in ISO 8601 UTC or null; the top-level fields summarise the targets (oldest success,
// earliest expiry, first error).
health_report evaluate_health(std::vector<target_status> const& targets, std::chrono::system_clock::time_point now);

}  // namespace rancher_ecr
