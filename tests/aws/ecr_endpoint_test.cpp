#include "aws/ecr_endpoint.hpp"

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

TEST(ecr_endpoint, builds_the_standard_endpoint) {
    auto endpoint = ecr_endpoint("us-east-1", std::nullopt);
    EXPECT_EQ(endpoint.scheme, "https");
    EXPECT_EQ(endpoint.host, "api.ecr.us-east-1.amazonaws.com");
    EXPECT_EQ(endpoint.port, 443);
    EXPECT_EQ(endpoint.target, "/");
    EXPECT_TRUE(endpoint.uses_tls());
    EXPECT_EQ(endpoint.text(), "https://api.ecr.us-east-1.amazonaws.com/");
    EXPECT_EQ(ecr_endpoint("eu-central-1", std::nullopt).host, "api.ecr.eu-central-1.amazonaws.com");
    EXPECT_EQ(ecr_endpoint("us-gov-west-1", std::nullopt).host, "api.ecr.us-gov-west-1.amazonaws.com");
    EXPECT_EQ(ecr_endpoint("US-West-2", std::nullopt).host, "api.ecr.us-west-2.amazonaws.com");
}

TEST(ecr_endpoint, uses_the_china_suffix_for_cn_regions) {
    EXPECT_EQ(ecr_endpoint("cn-north-1", std::nullopt).text(), "https://api.ecr.cn-north-1.amazonaws.com.cn/");
    EXPECT_EQ(ecr_endpoint("cn-northwest-1", std::nullopt).host, "api.ecr.cn-northwest-1.amazonaws.com.cn");
}

TEST(ecr_endpoint, uses_the_isolated_partitions_suffixes) {
    EXPECT_EQ(ecr_endpoint("us-iso-east-1", std::nullopt).host, "api.ecr.us-iso-east-1.c2s.ic.gov");
    EXPECT_EQ(ecr_endpoint("us-isob-east-1", std::nullopt).host, "api.ecr.us-isob-east-1.sc2s.sgov.gov");
    EXPECT_EQ(ecr_endpoint("us-isof-south-1", std::nullopt).host, "api.ecr.us-isof-south-1.csp.hci.ic.gov");
    EXPECT_EQ(ecr_endpoint("eu-isoe-west-1", std::nullopt).host, "api.ecr.eu-isoe-west-1.cloud.adc-e.uk");
    EXPECT_EQ(partition_dns_suffix("eusc-de-east-1"), "amazonaws.eu");
    // Prefixes, not substrings: these are ordinary regions.
    EXPECT_EQ(partition_dns_suffix("us-east-1"), "amazonaws.com");
    EXPECT_EQ(partition_dns_suffix("ca-central-1"), "amazonaws.com");
}

TEST(ecr_endpoint, returns_an_override_unchanged) {
    auto override_endpoint = parse_url("http://127.0.0.1:5123");
    ASSERT_TRUE(override_endpoint);
    auto endpoint = ecr_endpoint("us-east-1", *override_endpoint);
    EXPECT_EQ(endpoint.scheme, "http");
    EXPECT_EQ(endpoint.host, "127.0.0.1");
    EXPECT_EQ(endpoint.port, 5123);
    EXPECT_EQ(endpoint.target, "/");
    EXPECT_FALSE(endpoint.uses_tls());

    // An override keeps its path and wins over the region's partition.
    auto with_path = parse_url("https://vpce-0123.api.ecr.cn-north-1.vpce.amazonaws.com.cn:8443/proxy/ecr");
    ASSERT_TRUE(with_path);
    auto proxied = ecr_endpoint("cn-north-1", *with_path);
    EXPECT_EQ(proxied.host, "vpce-0123.api.ecr.cn-north-1.vpce.amazonaws.com.cn");
    EXPECT_EQ(proxied.port, 8443);
    EXPECT_EQ(proxied.target, "/proxy/ecr");
}

}  // namespace
}  // namespace rancher_ecr
