#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "net/http_message.hpp"

namespace rancher_ecr::testing {

// A plain GET of `address` (the service's probes), with a 2 s connect deadline and `request_timeout`
// for the answer; nullopt when the service does not answer.
std::optional<http_response> http_get(std::string const& address,
                                      std::chrono::seconds request_timeout = std::chrono::seconds{5});

}  // namespace rancher_ecr::testing
