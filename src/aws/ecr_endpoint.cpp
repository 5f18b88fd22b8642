#include "aws/ecr_endpoint.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "ascii_text.hpp"

namespace rancher_ecr {

std::string_view partition_dns_suffix(std::string_view region) {
    // Region prefixes of the partitions with their own DNS suffix (botocore endpoints.json
    // "regionRegex"/"dnsSuffix"); everything else, GovCloud included, is amazonaws.com.
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> partitions{{
        {"cn-", "amazonaws.com.cn"},
        {"us-iso-", "c2s.ic.gov"},
        {"us-isob-", "sc2s.sgov.gov"},
        {"us-isof-", "csp.hci.ic.gov"},
        {"eu-isoe-", "cloud.adc-e.uk"},
        {"eusc-", "amazonaws.eu"},
    }};
    for (auto const& [prefix, suffix] : partitions) {
        if (region.starts_with(prefix)) return suffix;
    }
    return "amazonaws.com";
}

url ecr_endpoint(std::string_view region, std::optional<url> const& override_endpoint) {
    if (override_endpoint) return *override_endpoint;
    auto const region_name = lower(region);
    url out;
    out.scheme = "https";
    out.host = "api.ecr." + region_name + "." + std::string(partition_dns_suffix(region_name));
    out.port = 443;
    out.target = "/";
    return out;
}

}  // namespace rancher_ecr
