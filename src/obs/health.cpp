#include "obs/health.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "obs/logging.hpp"

namespace rancher_ecr {

namespace {

using time_point = std::chrono::system_clock::time_point;

boost::json::value time_or_null(std::optional<time_point> const& at) {
    if (!at) return nullptr;
    return boost::json::value(format_utc(*at));
}

boost::json::value text_or_null(std::string const& text) {
    if (text.empty()) return nullptr;
    return boost::json::value(text);
}

std::optional<time_point> earliest_expiry(target_status const& target) {
    std::optional<time_point> earliest;
    for (auto const& registry : target.registries)
        if (registry.token_expires_at && (!earliest || *registry.token_expires_at < *earliest))
            earliest = registry.token_expires_at;
    return earliest;
}

}  // namespace

std::string_view health_text(health_state state) {
    switch (state) {
        case health_state::ok: return "ok";
        case health_state::starting: return "starting";
        case health_state::failing: return "failing";
        case health_state::expired: return "expired";
    }
    return "failing";
}

health_state health_of(target_status const& target, time_point now) {
    if (!target.attempted) return health_state::starting;
    // A token that expired in Rancher is the worst news, whatever the last refresh did.
    auto expiry = earliest_expiry(target);
    if (expiry && *expiry <= now) return health_state::expired;
    if (!target.last_refresh_ok) return health_state::failing;
    if (std::ranges::any_of(target.registries, [](auto const& r) { return !r.token_expires_at; }))
        return health_state::failing;
    return health_state::ok;
}

health_report evaluate_health(std::span<target_status const> targets, time_point now, health_layout layout) {
    // The worst state wins: pulls fail on an expired token; a failing refresh matters more
    // than one still starting.
    auto overall = targets.empty() ? health_state::starting : health_state::ok;
    std::optional<time_point> oldest_success, earliest;
    bool every_target_succeeded = true;
    std::string first_error;
    boost::json::array registries, target_entries;
    bool const flat = layout == health_layout::with_flat_registries;
    if (flat) registries.reserve(targets.size());
    target_entries.reserve(targets.size());
    for (auto const& target : targets) {
        auto const state = health_of(target, now);
        overall = std::max(overall, state);
        auto const status = health_text(state);
        if (!target.last_success) every_target_succeeded = false;
        else if (!oldest_success || *target.last_success < *oldest_success) oldest_success = target.last_success;
        auto expiry = earliest_expiry(target);
        if (expiry && (!earliest || *expiry < *earliest)) earliest = expiry;
        if (first_error.empty()) first_error = target.last_error;
        boost::json::array own;
        for (auto const& registry : target.registries) {
            auto namespace_name = registry.namespace_name ? boost::json::value(*registry.namespace_name)
                                                          : boost::json::value(nullptr);
            own.push_back(boost::json::object{{"name", registry.name},
                                              {"registry", text_or_null(registry.registry_host)},
                                              {"credential", text_or_null(registry.credential)},
                                              {"namespace", namespace_name},
                                              {"token_expires_at", time_or_null(registry.token_expires_at)}});
            if (flat)
                registries.push_back(boost::json::object{{"name", registry.name},
                                                     {"target", target.name},
                                                     {"registry", text_or_null(registry.registry_host)},
                                                     {"credential", text_or_null(registry.credential)},
                                                     {"namespace", namespace_name},
                                                     {"status", status},
                                                     {"last_success", time_or_null(target.last_success)},
                                                     {"token_expires_at", time_or_null(registry.token_expires_at)},
                                                     {"last_error", text_or_null(target.last_error)}});
        }
        target_entries.push_back(boost::json::object{{"name", target.name},
                                                     {"status", status},
                                                     {"last_success", time_or_null(target.last_success)},
                                                     {"token_expires_at", time_or_null(expiry)},
                                                     {"last_error", text_or_null(target.last_error)},
                                                     {"registries", std::move(own)}});
    }
    // A target that never succeeded has no success time: the summary must not look fresher.
    if (!every_target_succeeded) oldest_success.reset();
    boost::json::object body{{"status", health_text(overall)},
                             {"last_success", time_or_null(oldest_success)},
                             {"token_expires_at", time_or_null(earliest)},
                             {"last_error", text_or_null(first_error)}};
    if (flat) body.emplace("registries", std::move(registries));
    body.emplace("targets", std::move(target_entries));
    return {overall == health_state::ok ? 200 : 503, boost::json::serialize(body) + "\n"};
}

}  // namespace rancher_ecr
