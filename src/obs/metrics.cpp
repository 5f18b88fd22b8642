#include "obs/metrics.hpp"

#include <cmath>

#include <spdlog/fmt/fmt.h>  // spdlog's fmt, bundled or external alike

namespace rancher_ecr {

namespace {

constexpr std::string_view prefix = "rancher_ecr_credentials_";

double unix_seconds(std::chrono::system_clock::time_point at) {
    return std::chrono::duration<double>(at.time_since_epoch()).count();
}

void append_family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {}{} {}\n# TYPE {}{} {}\n", prefix, name, help, prefix, name,
                   type);
}

void append_sample(std::string& out, std::string_view name, std::string_view labels, double value) {
    out += prefix;
    out += name;
    out += labels;
    out += ' ';
    append_sample_value(out, value);
    out += '\n';
}

}  // namespace

void append_sample_value(std::string& out, double value) {
    if (std::isnan(value)) out += "NaN";
    else if (std::isinf(value)) out += value > 0 ? "+Inf" : "-Inf";
    else if (value == std::floor(value) && std::fabs(value) < 1e15)
        fmt::format_to(std::back_inserter(out), "{}", static_cast<long long>(value));
    else
        fmt::format_to(std::back_inserter(out), "{}", value);
}

void append_label_value(std::string& out, std::string_view value) {
    out += '"';
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    out += '"';
}

void duration_histogram::observe(std::chrono::steady_clock::duration elapsed) {
    double seconds = std::chrono::duration<double>(elapsed).count();
    for (std::size_t i = 0; i < bounds.size(); ++i)
        if (seconds <= bounds[i]) {
            ++counts_[i];
            break;
        }
    ++count_;
    sum_ += seconds;
}

void duration_histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += counts_[i];
        fmt::format_to(std::back_inserter(out), "{}{}_bucket{{{},le=\"{}\"}} {}\n", prefix, name, labels, bounds[i],
                       cumulative);
    }
    fmt::format_to(std::back_inserter(out), "{}{}_bucket{{{},le=\"+Inf\"}} {}\n", prefix, name, labels, count_);
    fmt::format_to(std::back_inserter(out), "{}{}_sum{{{}}} ", prefix, name, labels);
    append_sample_value(out, sum_);
    fmt::format_to(std::back_inserter(out), "\n{}{}_count{{{}}} {}\n", prefix, name, labels, count_);
}

service_metrics::service_metrics(std::string version) : version_{std::move(version)} {
    for (auto reason : {"ecr", "rancher", "registry_not_found"}) failures_[reason] = 0;
}

void service_metrics::refresh_attempted() {
    ++attempts_;
    ++generation_;
}

void service_metrics::every_target_succeeded(std::chrono::system_clock::time_point at) {
    last_success_seconds_ = unix_seconds(at);
    ++generation_;
}

void service_metrics::refresh_failed(std::string_view reason) {
    auto it = failures_.find(reason);
    if (it == failures_.end()) it = failures_.emplace(std::string{reason}, 0).first;
    ++it->second;
    ++generation_;
}

void service_metrics::token_written(std::string_view target, std::string const& registry_host,
                                    std::string const& credential, std::chrono::system_clock::time_point expires_at,
                                    std::chrono::system_clock::time_point written_at) {
    std::string labels = "{target=";
    append_label_value(labels, target);
    labels += ",registry=";
    append_label_value(labels, registry_host);
    if (!credential.empty()) {
        labels += ",credential=";
        append_label_value(labels, credential);
    }
    labels += '}';
    auto& series = targets_.try_emplace(std::string{target}).first->second;
    series.token_expiry_seconds[labels] = unix_seconds(expires_at);
    series.registry_success_seconds[labels] = unix_seconds(written_at);
    ++generation_;
}

void service_metrics::target_refreshed(std::string_view target, bool ok, std::chrono::system_clock::time_point at) {
    auto& series = targets_.try_emplace(std::string{target}).first->second;
    series.healthy = ok;
    if (ok) series.last_success_seconds = unix_seconds(at);
    ++generation_;
}

void service_metrics::forget_target(std::string_view target) {
    if (auto it = targets_.find(target); it != targets_.end()) {
        targets_.erase(it);
        ++generation_;
    }
}

void service_metrics::config_reloaded(bool ok) {
    ++(ok ? reloads_ : reload_failures_);
    ++generation_;
}

std::string service_metrics::render() const {
    std::string text;
    text.reserve(4096 + 512 * targets_.size());
    append_family(text, "build_info", "gauge", "The running version; always 1.");
    std::string labels = "{version=";
    append_label_value(labels, version_);
    labels += '}';
    append_sample(text, "build_info", labels, 1);

    // Unlabelled, as with one account; an alert on its age fires while any account keeps failing.
    // Unlabelled, as with one target; an alert on its age fires while any target keeps failing.
    append_family(text, "last_success_timestamp_seconds", "gauge",
                  "Unix time of the last successful refresh of a target (labelled target), and unlabelled of the "
                  "last refresh after which every target's last refresh had succeeded; 0 until then.");
    append_sample(text, "last_success_timestamp_seconds", "", last_success_seconds_);
    for (auto const& [target, series] : targets_) {
        if (!series.last_success_seconds) continue;
        labels = "{target=";
        append_label_value(labels, target);
        labels += '}';
        append_sample(text, "last_success_timestamp_seconds", labels, *series.last_success_seconds);
    }

    append_family(text, "target_healthy", "gauge",
                  "1 when the target's last refresh succeeded, 0 when it failed; no series before the first.");
    for (auto const& [target, series] : targets_) {
        if (!series.healthy) continue;
        labels = "{target=";
        append_label_value(labels, target);
        labels += '}';
        append_sample(text, "target_healthy", labels, *series.healthy ? 1 : 0);
    }

    append_family(text, "registry_last_success_timestamp_seconds", "gauge",
                  "Unix time at which the token of a registry was last written into a target's Rancher place; no "
                  "series before the first.");
    for (auto const& [target, series] : targets_)
        for (auto const& [labelled, seconds] : series.registry_success_seconds)
            append_sample(text, "registry_last_success_timestamp_seconds", labelled, seconds);

    append_family(text, "token_expiry_timestamp_seconds", "gauge",
                  "Unix time at which the token written into a target's Rancher place for a registry expires "
                  "(ECR's expiresAt; 12 hours after the write when ECR reports an expiry already past or weeks "
                  "away).");
    for (auto const& [target, series] : targets_)
        for (auto const& [labelled, seconds] : series.token_expiry_seconds)
            append_sample(text, "token_expiry_timestamp_seconds", labelled, seconds);

    append_family(text, "refresh_attempts_total", "counter", "Refreshes started (ECR token fetch and Rancher write).");
    append_sample(text, "refresh_attempts_total", "", static_cast<double>(attempts_));

    append_family(text, "refresh_failures_total", "counter", "Refreshes that failed, by the step that failed.");
    for (auto const& [reason, count] : failures_) {
        labels = "{reason=";
        append_label_value(labels, reason);
        labels += '}';
        append_sample(text, "refresh_failures_total", labels, static_cast<double>(count));
    }

    append_family(text, "config_reloads_total", "counter", "Re-reads of the targets file (SIGHUP) that took effect.");
    append_sample(text, "config_reloads_total", "", static_cast<double>(reloads_));
    append_family(text, "config_reload_failures_total", "counter",
                  "Re-reads of the targets file (SIGHUP) refused for a bad file; the old targets stay.");
    append_sample(text, "config_reload_failures_total", "", static_cast<double>(reload_failures_));

    append_family(text, "request_duration_seconds", "histogram",
                  "Duration of HTTP exchanges with ECR and Rancher, including connection set-up.");
    ecr_requests_.render(text, "request_duration_seconds", "service=\"ecr\"");
    rancher_requests_.render(text, "request_duration_seconds", "service=\"rancher\"");
    text.shrink_to_fit();  // served for as long as nothing changes: held at its size
    return text;
}

}  // namespace rancher_ecr
