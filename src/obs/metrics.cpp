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

void service_metrics::token_written(std::string const& registry_host, std::string const& credential,
                                    std::chrono::system_clock::time_point expires_at,
                                    std::chrono::system_clock::time_point written_at) {
    std::string labels = "{registry=";
    append_label_value(labels, registry_host);
    if (!credential.empty()) {
        labels += ",credential=";
        append_label_value(labels, credential);
    }
    labels += '}';
    token_expiry_seconds_[labels] = unix_seconds(expires_at);
    registry_success_seconds_[labels] = unix_seconds(written_at);
    ++generation_;
}

std::string const& service_metrics::render() {
    if (rendered_generation_ == generation_) return text_;
    text_.clear();
    text_.reserve(4096);
    append_family(text_, "build_info", "gauge", "The running version; always 1.");
    std::string labels = "{version=";
    append_label_value(labels, version_);
    labels += '}';
    append_sample(text_, "build_info", labels, 1);

    // Unlabelled, as with one account; an alert on its age fires while any account keeps failing.
    append_family(text_, "last_success_timestamp_seconds", "gauge",
                  "Unix time of the last refresh after which every target's last refresh had succeeded (every "
                  "registry's token written into Rancher); 0 until then.");
    append_sample(text_, "last_success_timestamp_seconds", "", last_success_seconds_);

    append_family(text_, "registry_last_success_timestamp_seconds", "gauge",
                  "Unix time at which the token of a registry was last written into Rancher; no series before "
                  "the first.");
    for (auto const& [series, seconds] : registry_success_seconds_)
        append_sample(text_, "registry_last_success_timestamp_seconds", series, seconds);

    append_family(text_, "token_expiry_timestamp_seconds", "gauge",
                  "Unix time at which the token written into Rancher for a registry expires (ECR's expiresAt; "
                  "12 hours after the write when ECR reports an expiry already past or weeks away).");
    for (auto const& [series, seconds] : token_expiry_seconds_)
        append_sample(text_, "token_expiry_timestamp_seconds", series, seconds);

    append_family(text_, "refresh_attempts_total", "counter", "Refreshes started (ECR token fetch and Rancher write).");
    append_sample(text_, "refresh_attempts_total", "", static_cast<double>(attempts_));

    append_family(text_, "refresh_failures_total", "counter", "Refreshes that failed, by the step that failed.");
    for (auto const& [reason, count] : failures_) {
        labels = "{reason=";
        append_label_value(labels, reason);
        labels += '}';
        append_sample(text_, "refresh_failures_total", labels, static_cast<double>(count));
    }

    append_family(text_, "request_duration_seconds", "histogram",
                  "Duration of HTTP exchanges with ECR and Rancher, including connection set-up.");
    ecr_requests_.render(text_, "request_duration_seconds", "service=\"ecr\"");
    rancher_requests_.render(text_, "request_duration_seconds", "service=\"rancher\"");
    rendered_generation_ = generation_;
    return text_;
}

}  // namespace rancher_ecr
