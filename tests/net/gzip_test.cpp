#include "net/gzip.hpp"

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "net/accept_encoding.hpp"
#include "support/gunzip.hpp"

namespace rancher_ecr {
namespace {

using testing::gunzip;
using testing::le32;

TEST(gzip, a_member_has_the_rfc_1952_header_the_deflated_body_and_its_crc_and_size) {
    auto const member = gzip("123456789");
    ASSERT_TRUE(member);
    ASSERT_GE(member->size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>((*member)[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>((*member)[1]), 0x8b);
    EXPECT_EQ((*member)[2], 8);  // deflate
    EXPECT_EQ((*member)[3], 0);  // no name, comment or extra field
    EXPECT_EQ(le32(*member, member->size() - 8), 0xCBF43926u);  // CRC-32's check value for "123456789"
    EXPECT_EQ(le32(*member, member->size() - 4), 9u);
    EXPECT_EQ(gunzip(*member), "123456789");
}

TEST(gzip, a_health_body_of_many_targets_shrinks_and_comes_back_whole) {
    std::string body = "{\"status\":\"ok\",\"targets\":[";
    for (int i = 0; i < 1000; ++i)
        body += "{\"name\":\"prod/env-" + std::to_string(i) +
                "\",\"status\":\"ok\",\"last_success\":\"2026-12-03T11:55:16.386Z\",\"registries\":[]},";
    body += "{}]}\n";
    auto const member = gzip(body);
    ASSERT_TRUE(member);
    EXPECT_LT(member->size(), body.size() / 10);
    EXPECT_EQ(le32(*member, member->size() - 4), body.size());
    EXPECT_EQ(gunzip(*member), body);
}

TEST(gzip, an_empty_body_is_a_valid_member) {
    auto const member = gzip("");
    ASSERT_TRUE(member);
    EXPECT_EQ(le32(*member, member->size() - 8), 0u);
    EXPECT_EQ(le32(*member, member->size() - 4), 0u);
    EXPECT_EQ(gunzip(*member), "");
}

TEST(gzip, a_damaged_member_is_told_apart) {  // the reader the tests use checks what it reads
    auto member = *gzip("a body that is long enough to be worth a check");
    member[member.size() - 6] ^= 1;  // the CRC
    EXPECT_FALSE(gunzip(member));
    EXPECT_FALSE(gunzip(member.substr(0, member.size() - 1)));
}

TEST(accepts_gzip, reads_codings_and_weights_as_rfc_9110_says) {
    EXPECT_TRUE(accepts_gzip("gzip"));
    EXPECT_TRUE(accepts_gzip("GZip"));
    EXPECT_TRUE(accepts_gzip("x-gzip"));
    EXPECT_TRUE(accepts_gzip("gzip, deflate, br"));  // curl --compressed, browsers
    EXPECT_TRUE(accepts_gzip("identity , gzip;q=0.5"));
    EXPECT_TRUE(accepts_gzip("gzip ; q=1.000"));
    EXPECT_TRUE(accepts_gzip("*"));
    EXPECT_TRUE(accepts_gzip("br;q=1, *;q=0.1"));

    EXPECT_FALSE(accepts_gzip(""));
    EXPECT_FALSE(accepts_gzip("identity"));
    EXPECT_FALSE(accepts_gzip("deflate, br"));
    EXPECT_FALSE(accepts_gzip("gzip;q=0"));
    EXPECT_FALSE(accepts_gzip("gzip; Q=0.000"));
    EXPECT_FALSE(accepts_gzip("*;q=0"));
    EXPECT_FALSE(accepts_gzip("*, gzip;q=0"));  // gzip named wins over "*"
    EXPECT_FALSE(accepts_gzip("gzipped"));
}

}  // namespace
}  // namespace rancher_ecr
