#include "rancher/cattle_writer.hpp"

#include <spdlog/spdlog.h>

#include "obs/logging.hpp"

namespace rancher_ecr {

boost::asio::awaitable<write_report> cattle_writer::write(std::span<ecr_authorization const> tokens) {
    std::vector<registry_login> logins;
    logins.reserve(tokens.size());
    for (auto const& token : tokens) logins.push_back(registry_login{token.registry_host, token.username, token.password});
    auto written = co_await client_.write_registry_credentials(std::move(logins), auto_create_);
    write_report report;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        auto const& token = tokens[i];
        auto& entry = report.hosts.emplace_back(host_write{token.registry_host, {}, std::nullopt, std::nullopt});
        auto const& one = written[i];
        if (!one) {
            spdlog::error("writing the credential of registry {} to Rancher failed: {}", token.registry_host,
                          describe(one.error()));
            entry.problem = one.error();
            continue;
        }
        if (spdlog::should_log(spdlog::level::info))
            spdlog::info("registry {} (Rancher registry {}): credential written ({} updated, {} created{}), token "
                         "expires at {}",
                         token.registry_host, one->registry_id, one->credentials_updated, one->credentials_created,
                         one->registry_created ? ", registry created" : "", format_utc(token.expires_at));
    }
    co_return report;
}

}  // namespace rancher_ecr
