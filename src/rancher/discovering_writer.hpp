#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "net/http_transport.hpp"
#include "net/url.hpp"
#include "rancher/credential_writer.hpp"
#include "rancher/rancher_url.hpp"

namespace rancher_ecr {

// The writer for a CATTLE_URL that is a bare origin: at its first write it asks GET <origin>/v3
// (with the key as a Bearer token) which Rancher answers there (is_norman_discovery_answer: 2.x,
// else 1.x), logs which, builds the writer for it with `make` and writes with that from then on.
// Until an answer comes (Rancher out of reach) every write fails with the transport's failure.
class discovering_writer final : public credential_writer {
public:
    using factory = std::function<std::unique_ptr<credential_writer>(rancher_generation)>;

    discovering_writer(http_transport& transport, url origin, std::string access_key, std::string secret_key,
                       factory make);

    boost::asio::awaitable<write_report> write(std::span<ecr_authorization const> tokens) override;

private:
    http_transport& transport_;
    url origin_;
    std::string access_key_;
    std::string secret_key_;
    factory make_;
    std::unique_ptr<credential_writer> found_;
};

}  // namespace rancher_ecr
