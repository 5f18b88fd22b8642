#include "rancher/discovering_writer.hpp"

#include <spdlog/spdlog.h>

#include "net/coroutine_warning.hpp"
#include "rancher/rancher_api.hpp"
#include "rancher/norman_resources.hpp"


namespace rancher_ecr {

discovering_writer::discovering_writer(http_transport& transport, url origin, std::string access_key,
                                       std::string secret_key, factory make)
    : transport_{transport},
      origin_{std::move(origin)},
      access_key_{std::move(access_key)},
      secret_key_{std::move(secret_key)},
      make_{std::move(make)} {}

boost::asio::awaitable<write_report> discovering_writer::write(std::span<ecr_authorization const> tokens) {
    if (!found_) {
        url probe = origin_;
        probe.target = "/v3";
        auto answer =
            co_await transport_.send(probe, rancher_request("GET", probe, bearer_authorization(access_key_, secret_key_)));
        if (!answer) {
            auto problem = answer.error();
            problem.message = "finding which Rancher API " + origin_.origin() + " speaks (GET /v3): " + problem.message;
            spdlog::error("{}", problem.message);
            write_report report;
            for (auto const& token : tokens)
                report.hosts.push_back(host_write{token.registry_host, {}, std::nullopt, problem});
            co_return report;
        }
        auto const generation = is_norman_discovery_answer(answer->status, answer->body) ? rancher_generation::norman
                                                                                         : rancher_generation::cattle;
        spdlog::info("Rancher at {} speaks the {} (GET /v3 answered HTTP {})", origin_.origin(),
                     generation == rancher_generation::norman ? "2.x API (norman v3)" : "1.x API (Cattle v2-beta)",
                     answer->status);
        found_ = make_(generation);
    }
    co_return co_await found_->write(tokens);
}

}  // namespace rancher_ecr
