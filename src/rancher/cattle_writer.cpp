#include "rancher/cattle_writer.hpp"

#include <spdlog/spdlog.h>

#include "obs/logging.hpp"

namespace rancher_ecr {

boost::asio::awaitable<write_report> cattle_writer::write(std::span<ecr_authorization const> tokens) {
    write_report report;
    for (auto const& token : tokens) {
        auto& entry = report.hosts.emplace_back(host_write{token.registry_host, {}, std::nullopt, std::nullopt});
        auto written = co_await client_.write_registry_credential(token.registry_host, token.username, token.password,
                                                                  auto_create_);
        if (!written) {
            spdlog::error("writing the credential of registry {} to Rancher failed: {}", token.registry_host,
                          describe(written.error()));
            entry.problem = written.error();
            continue;
        }
        if (spdlog::should_log(spdlog::level::info))
            spdlog::info("registry {} (Rancher registry {}): credential written ({} updated, {} created{}), token "
                         "expires at {}",
                         token.registry_host, written->registry_id, written->credentials_updated,
                         written->credentials_created, written->registry_created ? ", registry created" : "",
                         format_utc(token.expires_at));
    }
    co_return report;
}

}  // namespace rancher_ecr
