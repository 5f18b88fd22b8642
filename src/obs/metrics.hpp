#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rancher_ecr {

// A Prometheus histogram with fixed buckets (upper bounds in seconds, ascending).
class duration_histogram {
public:
    // Up to 30 s: the HTTPS client allows 5 s to connect and 15 s for the exchange.
    static constexpr std::array<double, 12> bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

    void observe(std::chrono::steady_clock::duration elapsed);
    // Appends the _bucket (cumulative, +Inf last), _sum and _count lines of `name{labels}`.
    void render(std::string& out, std::string_view name, std::string_view labels) const;

private:
    std::array<std::uint64_t, bounds.size()> counts_{};  // per bucket, not cumulative
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

// The service's metrics, in the Prometheus text format 0.0.4. Updated and read on the one
// io_context thread, so plain values suffice. No label carries a secret: registry hosts and
// failure reasons only.
class service_metrics {
public:
    explicit service_metrics(std::string version);

    void refresh_attempted();
    // A refresh completed after which every target's last refresh had succeeded (the unlabelled
    // last_success series: with one account failing, it does not move).
    void every_target_succeeded(std::chrono::system_clock::time_point at);
    void refresh_failed(std::string_view reason);  // ecr, rancher, registry_not_found
    // The token of `registry_host` was written into `target`'s Rancher place at `written_at` and
    // expires at `expires_at`: that registry's own series, labelled {target, registry}, and
    // `credential` too when not empty (Rancher 2.x: the credentials' names).
    void token_written(std::string_view target, std::string const& registry_host, std::string const& credential,
                       std::chrono::system_clock::time_point expires_at, std::chrono::system_clock::time_point written_at);
    // A refresh of `target` ended at `at`: target_healthy{target} 1 or 0, and on success its
    // last_success_timestamp_seconds{target}.
    void target_refreshed(std::string_view target, bool ok, std::chrono::system_clock::time_point at);
    // The target is gone (a reload removed it, or its environment or project went): its series go.
    void forget_target(std::string_view target);
    // A SIGHUP re-read the targets file: it took effect, or it was refused and the old one kept.
    void config_reloaded(bool ok);
    void ecr_request(std::chrono::steady_clock::duration elapsed) { ecr_requests_.observe(elapsed); ++generation_; }
    void rancher_request(std::chrono::steady_clock::duration elapsed) {
        rancher_requests_.observe(elapsed);
        ++generation_;
    }

    // The whole exposition, built afresh: a caller that serves it keeps it while generation()
    // stays (app/probe_routes), so that it is held once, not twice.
    std::string render() const;
    // Changes whenever a metric does.
    std::uint64_t generation() const { return generation_; }

private:
    std::string version_;
    double last_success_seconds_ = 0;
    std::uint64_t attempts_ = 0;
    std::map<std::string, std::uint64_t, std::less<>> failures_;
    struct target_series {
        std::optional<double> last_success_seconds;
        std::optional<bool> healthy;  // nullopt before the first refresh
        // By label set: {target="...",registry="..."} or {target="...",registry="...",credential="..."}.
        std::map<std::string, double, std::less<>> token_expiry_seconds;
        std::map<std::string, double, std::less<>> registry_success_seconds;
    };
    std::map<std::string, target_series, std::less<>> targets_;
    std::uint64_t reloads_ = 0;
    std::uint64_t reload_failures_ = 0;
    duration_histogram ecr_requests_;
    duration_histogram rancher_requests_;
    std::uint64_t generation_ = 1;
};

// A sample value as Prometheus writes it: integers plainly, NaN, +Inf, -Inf.
void append_sample_value(std::string& out, double value);
// A label value with \, " and newline escaped.
void append_label_value(std::string& out, std::string_view value);

}  // namespace rancher_ecr
