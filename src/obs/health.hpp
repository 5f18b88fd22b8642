#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rancher_ecr {

// One registry of a target, as far as its last write went.
struct registry_status {
    std::string name;           // the registry id, or "default" for the caller's own
    std::string registry_host;  // of the last token written; empty before
    std::optional<std::chrono::system_clock::time_point> token_expires_at;  // of the token in Rancher
    std::string credential;  // Rancher 2.x: the name of the credential holding the host; empty for 1.x
    std::optional<std::string> namespace_name;  // Rancher 2.x namespaced credentials: the namespaces
};

// What the service knows about one target (a Rancher place and its registries; for a target
// with `environments: all` or `projects: all`, the listing of its places, with no registries).
struct target_status {
    std::string name;
    bool attempted = false;  // a refresh has completed, successfully or not
    bool last_refresh_ok = false;
    std::optional<std::chrono::system_clock::time_point> last_success;
    std::string last_error;  // of the last refresh, empty after a success; never holds a secret
    std::vector<registry_status> registries;
};

// Whether the /healthz body lists every account flat beside `targets` (the body configured from
// the environment has had it from the start) or `targets` alone (a targets file: the flat list
// would say everything twice).
enum class health_layout { with_flat_registries, targets_only };

struct health_report {
    int http_status = 503;
    std::string body;  // JSON
};

// A target's health, from the best to the worst: the worst of the targets is the service's.
enum class health_state {
    ok,
    starting,  // no refresh has completed
    failing,   // the last refresh failed, or a registry has no token yet
    expired,   // a token in Rancher has expired: pulls fail
};

// "ok", "starting", "failing", "expired": the word in /healthz.
std::string_view health_text(health_state state);

health_state health_of(target_status const& target, std::chrono::system_clock::time_point now);

// Healthy (200) when every target is "ok"; otherwise 503, with "status" the worst: "expired",
// "failing", "starting". The body (without "registries" in the targets_only layout):
//   {"status":..,"last_success":..,"token_expires_at":..,"last_error":..,
//    "registries":[{"name","target","registry","credential","namespace","status","last_success",
//                   "token_expires_at","last_error"}...],
//    "targets":[{"name","status","last_success","token_expires_at","last_error",
//                "registries":[{"name","registry","credential","namespace","token_expires_at"}...]}...]}
// times in ISO 8601 UTC or null; the top-level fields summarise the targets (oldest success, null
// while one has none; earliest expiry; first error).
health_report evaluate_health(std::span<target_status const> targets, std::chrono::system_clock::time_point now,
                              health_layout layout = health_layout::with_flat_registries);

}  // namespace rancher_ecr
