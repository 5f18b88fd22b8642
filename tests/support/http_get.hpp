#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "net/http_message.hpp"

namespace rancher_ecr::testing {

// A plain GET of `address` (the service's probes), with a 2 s connect deadline and `request_timeout`
// for the answer, and `headers` besides Host; nullopt when the service does not answer. The body
// is as it came (a gzip body stays compressed).
std::optional<http_response> http_get(std::string const& address,
                                      std::chrono::seconds request_timeout = std::chrono::seconds{5},
                                      std::vector<http_header> headers = {});

}  // namespace rancher_ecr::testing
