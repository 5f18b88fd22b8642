#pragma once

#include "rancher/credential_writer.hpp"
#include "rancher/rancher_client.hpp"

namespace rancher_ecr {

// The Rancher 1.x writer: each token into the registry of its host in one environment, through
// rancher_client (which must outlive it), which lists the registries once for all of them. A token
// that fails does not keep the others from being written.
class cattle_writer final : public credential_writer {
public:
    cattle_writer(rancher_client& client, bool auto_create) : client_{client}, auto_create_{auto_create} {}

    boost::asio::awaitable<write_report> write(std::span<ecr_authorization const> tokens) override;

private:
    rancher_client& client_;
    bool auto_create_;
};

}  // namespace rancher_ecr
