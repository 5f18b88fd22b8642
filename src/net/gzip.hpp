#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rancher_ecr {

// `body` as a gzip member (RFC 1952: header, raw deflate at level 6, CRC-32 and size), for a
// `Content-Encoding: gzip` answer; nullopt if the compressor fails (then the body goes as it is).
std::optional<std::string> gzip(std::string_view body);

}  // namespace rancher_ecr
