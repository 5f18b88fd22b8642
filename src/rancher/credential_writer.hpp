#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "aws/ecr_token.hpp"
#include "error.hpp"

namespace rancher_ecr {

// Where one token went, or why it did not.
struct host_write {
    std::string registry_host;
    // The Rancher credential that holds the host (2.x: its name; 1.x: empty, one per registry).
    std::string credential;
    std::optional<std::string> namespace_name;  // 2.x namespaced credentials; nullopt when project-wide
    std::optional<failure> problem;              // set when this host's password was not written
};

// What one write did: an entry per token given, in order (2.x with several namespaces: one per
// token and namespace, so a host is written only when none of its entries has a problem).
struct write_report {
    std::vector<host_write> hosts;
};

// Puts a set of fresh ECR tokens into one Rancher place: a 1.x environment (cattle_writer) or a
// 2.x project or its namespaces (norman_writer). Takes the whole token set of a refresh, since a
// 2.x credential can hold several hosts that must be written together. Never throws for I/O or
// remote failures: they are in the report, each already logged by the writer.
class credential_writer {
public:
    virtual ~credential_writer() = default;
    virtual boost::asio::awaitable<write_report> write(std::span<ecr_authorization const> tokens) = 0;
};

}  // namespace rancher_ecr
