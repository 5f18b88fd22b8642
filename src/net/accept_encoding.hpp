#pragma once

#include <string_view>

namespace rancher_ecr {

// Whether an Accept-Encoding field value admits gzip (RFC 9110, 12.5.3): a "gzip" or "x-gzip"
// coding whose weight is not zero, else a "*" whose weight is not zero. Codings are
// case-insensitive; whitespace around them is allowed.
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace rancher_ecr
