#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/kind.hpp>

namespace rancher_ecr {

// Helpers for quoting what a peer (ECR, Rancher) sent in an error message.

// "a string", "an object", "null"...: what a JSON value turned out to be.
std::string_view json_kind_name(boost::json::kind kind);

// Printable ASCII only, runs of whitespace as one space, at most about `max_size` characters:
// safe to put in a log line whatever the peer sent.
std::string sanitised_excerpt(std::string_view text, std::size_t max_size);

}  // namespace rancher_ecr
