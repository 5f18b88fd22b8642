#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/url.hpp"

namespace rancher_ecr {

// The DNS suffix of the AWS partition a region belongs to: "amazonaws.com", "amazonaws.com.cn" for
// cn-*, and the isolated partitions' suffixes (us-iso-*, us-isob-*, us-isof-*, eu-isoe-*, eusc-*),
// as in botocore's endpoints.json.
std::string_view partition_dns_suffix(std::string_view region);

// The ECR API endpoint: `override_endpoint` unchanged when given (AWS_ENDPOINT_URL_ECR, else
// AWS_ENDPOINT_URL, already parsed), else https://api.ecr.<region>.<partition suffix>/.
// The region is not validated here (configuration does that); the signature's region stays
// `region` whichever endpoint is used.
url ecr_endpoint(std::string_view region, std::optional<url> const& override_endpoint);

}  // namespace rancher_ecr
