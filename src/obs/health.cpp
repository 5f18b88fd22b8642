#include "obs/health.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "obs/logging.hpp"

namespace rancher_ecr {

namespace {

boost::json::value time_or_null(std::optional<std::chrono::system_clock::time_point> const& at) {
    if (!at) return nullptr;
    return boost::json::value(format_utc(*at));
}

boost::json::value text_or_null(std::string const& text) {
    if (text.empty()) return nullptr;
    return boost::json::value(text);
}

std::string_view status_of(target_status const& target, std::chrono::system_clock::time_point now) {
    if (!target.attempted) return "starting";
    // A token that expired in Rancher is the worst news, whatever the last refresh did.
    if (target.token_expires_at && *target.token_expires_at <= now) return "expired";
    if (!target.last_refresh_ok || !target.token_expires_at) return "failing";
    return "ok";
}

}  // namespace

health_report evaluate_health(std::vector<target_status> const& targets, std::chrono::system_clock::time_point now) {
    // The worst state wins: pulls fail on an expired token; a failing refresh matters more
    // than one still starting.
    constexpr std::string_view severity[] = {"ok", "starting", "failing", "expired"};
    auto rank = [&](std::string_view s) { return std::ranges::find(severity, s) - std::begin(severity); };

    std::string_view overall = targets.empty() ? "starting" : "ok";
    std::optional<std::chrono::system_clock::time_point> oldest_success, earliest_expiry;
    std::string first_error;
    boost::json::array registries;
    for (auto const& target : targets) {
        auto status = status_of(target, now);
        if (rank(status) > rank(overall)) overall = status;
        if (target.last_success && (!oldest_success || *target.last_success < *oldest_success))
            oldest_success = target.last_success;
        if (target.token_expires_at && (!earliest_expiry || *target.token_expires_at < *earliest_expiry))
            earliest_expiry = target.token_expires_at;
        if (first_error.empty()) first_error = target.last_error;
        registries.push_back(boost::json::object{{"name", target.name},
                                                 {"registry", text_or_null(target.registry_host)},
                                                 {"credential", text_or_null(target.credential)},
                                                 {"namespace", target.namespace_name
                                                                   ? boost::json::value(*target.namespace_name)
                                                                   : boost::json::value(nullptr)},
                                                 {"status", status},
                                                 {"last_success", time_or_null(target.last_success)},
                                                 {"token_expires_at", time_or_null(target.token_expires_at)},
                                                 {"last_error", text_or_null(target.last_error)}});
    }
    // A target that never succeeded has no success time: the summary must not look fresher.
    if (std::ranges::any_of(targets, [](auto const& t) { return !t.last_success; })) oldest_success.reset();
    boost::json::object body{{"status", overall},
                             {"last_success", time_or_null(oldest_success)},
                             {"token_expires_at", time_or_null(earliest_expiry)},
                             {"last_error", text_or_null(first_error)},
                             {"registries", std::move(registries)}};
    return {overall == "ok" ? 200 : 503, boost::json::serialize(body) + "\n"};
}

}  // namespace rancher_ecr
