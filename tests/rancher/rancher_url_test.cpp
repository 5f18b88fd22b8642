#include "rancher/rancher_url.hpp"

#include <string>

#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

std::string normalised(std::string_view text) {
    auto base = normalise_cattle_url(text);
    if (!base) return "error: " + base.error().message;
    return base->text();
}

TEST(normalise_cattle_url, an_empty_path_or_slash_becomes_v2_beta) {
    EXPECT_EQ(normalised("http://rancher:8080"), "http://rancher:8080/v2-beta");
    EXPECT_EQ(normalised("http://rancher:8080/"), "http://rancher:8080/v2-beta");
    EXPECT_EQ(normalised("https://Rancher.Example.com//"), "https://rancher.example.com/v2-beta");
}

TEST(normalise_cattle_url, v1_becomes_v2_beta_and_keeps_the_project) {
    EXPECT_EQ(normalised("http://rancher:8080/v1"), "http://rancher:8080/v2-beta");
    EXPECT_EQ(normalised("http://rancher:8080/v1/"), "http://rancher:8080/v2-beta");
    EXPECT_EQ(normalised("http://rancher:8080/v1/projects/1a5"), "http://rancher:8080/v2-beta/projects/1a5");
}

TEST(normalise_cattle_url, v2_beta_and_projects_are_kept_without_a_trailing_slash) {
    EXPECT_EQ(normalised("http://rancher:8080/v2-beta"), "http://rancher:8080/v2-beta");
    EXPECT_EQ(normalised("http://rancher:8080/v2-beta/"), "http://rancher:8080/v2-beta");
    EXPECT_EQ(normalised("http://rancher:8080/v2-beta/projects/1a5/"), "http://rancher:8080/v2-beta/projects/1a5");
}

TEST(normalise_cattle_url, only_a_whole_v1_segment_is_replaced) {
    EXPECT_EQ(normalised("http://rancher:8080/v10"), "http://rancher:8080/v10");
    EXPECT_EQ(normalised("http://rancher:8080/rancher/v1"), "http://rancher:8080/rancher/v1");
}

TEST(normalise_cattle_url, refuses_a_query_and_malformed_urls) {
    auto with_query = normalise_cattle_url("http://rancher:8080/v2-beta?projectId=1a5");
    ASSERT_FALSE(with_query);
    EXPECT_EQ(with_query.error().kind, failure_kind::config);
    EXPECT_NE(with_query.error().message.find("query"), std::string::npos);

    auto no_scheme = normalise_cattle_url("rancher:8080/v1");
    ASSERT_FALSE(no_scheme);
    EXPECT_EQ(no_scheme.error().kind, failure_kind::config);
    EXPECT_TRUE(no_scheme.error().message.starts_with("CATTLE_URL: ")) << no_scheme.error().message;

    auto user_info = normalise_cattle_url("http://key:s3cr3t@rancher:8080/v1");
    ASSERT_FALSE(user_info);
    EXPECT_EQ(user_info.error().message.find("s3cr3t"), std::string::npos) << user_info.error().message;

    // Found by tests/fuzz/url_fuzz: a password holding '?' leaves its '@' in the query, which the
    // message about the query quoted as it stood.
    auto in_query = normalise_cattle_url("https://rancher:8443/v2-beta?key:s3cr3t@rancher/v1");
    ASSERT_FALSE(in_query);
    EXPECT_NE(in_query.error().message.find("query"), std::string::npos) << in_query.error().message;
    EXPECT_EQ(in_query.error().message.find("s3cr3t"), std::string::npos) << in_query.error().message;
}

TEST(resolve_rancher_link, keeps_the_path_and_query_on_the_base_origin) {
    auto base = *normalise_cattle_url("https://rancher.example.com/v2-beta/projects/1a5");
    auto same = resolve_rancher_link(base, "https://rancher.example.com/v2-beta/projects/1a5/registries?marker=m100");
    ASSERT_TRUE(same) << same.error().message;
    EXPECT_EQ(same->text(), "https://rancher.example.com/v2-beta/projects/1a5/registries?marker=m100");

    // A proxy that terminates TLS makes Rancher write http:// links with an internal name.
    auto proxied = resolve_rancher_link(base, "http://10.0.0.7:8080/v2-beta/projects/1a5/schemas");
    ASSERT_TRUE(proxied);
    EXPECT_EQ(proxied->text(), "https://rancher.example.com/v2-beta/projects/1a5/schemas");

    auto relative = resolve_rancher_link(base, "/v2-beta/registrycredentials/1c34");
    ASSERT_TRUE(relative);
    EXPECT_EQ(relative->text(), "https://rancher.example.com/v2-beta/registrycredentials/1c34");
}

TEST(resolve_rancher_link, refuses_what_is_not_a_link) {
    auto base = *normalise_cattle_url("http://rancher:8080");
    for (auto link : {"", "registries", "//evil/x", "ftp://rancher/v2-beta", "http://rancher/a b"}) {
        auto resolved = resolve_rancher_link(base, link);
        EXPECT_FALSE(resolved) << link;
        if (!resolved) {
            EXPECT_EQ(resolved.error().kind, failure_kind::bad_response);
        }
    }
}

TEST(path_below, is_what_follows_the_base_path_of_a_collection_below_it) {
    EXPECT_EQ(path_below("/v2-beta/projects/1a5", "/v2-beta/projects/1a5/registries"), "/registries");
    EXPECT_EQ(path_below("/v2-beta/projects/1a5", "/v2-beta/projects/1a5/registrycredentials"), "/registrycredentials");
    EXPECT_EQ(path_below("/v2-beta", "/v2-beta/a/b"), "/a/b");
    // Not below it: another environment, a longer id, the base itself, or a collection with a query.
    EXPECT_EQ(path_below("/v2-beta/projects/1a5", "/v2-beta/projects/1a6/registries"), std::nullopt);
    EXPECT_EQ(path_below("/v2-beta/projects/1a5", "/v2-beta/projects/1a55/registries"), std::nullopt);
    EXPECT_EQ(path_below("/v2-beta/projects/1a5", "/v2-beta/projects/1a5"), std::nullopt);
    EXPECT_EQ(path_below("/v2-beta/projects/1a5", "/v2-beta/projects/1a5/"), std::nullopt);
    EXPECT_EQ(path_below("/v2-beta/projects/1a5", "/v2-beta/registries"), std::nullopt);
    EXPECT_EQ(path_below("/v2-beta/projects/1a5", "/v2-beta/projects/1a5/registries?projectId=1a5"), std::nullopt);
    EXPECT_EQ(path_below("", "/registries"), std::nullopt);
    EXPECT_EQ(path_below("/v2-beta/", "/v2-beta/registries"), std::nullopt);
}

TEST(with_query_parameter, appends_and_encodes) {
    EXPECT_EQ(with_query_parameter("/v2-beta/registrycredentials", "registryId", "1sp12"),
              "/v2-beta/registrycredentials?registryId=1sp12");
    EXPECT_EQ(with_query_parameter("/c?limit=10", "registryId", "a b&c"), "/c?limit=10&registryId=a%20b%26c");
    EXPECT_EQ(with_query_parameter("/c?", "x", "1"), "/c?x=1");
}

// "2 c-abcde:p-xyz12 /v3" for a choice, "? /" for a bare origin, "1 /v2-beta" for 1.x.
std::string classified(std::string_view text) {
    auto choice = classify_cattle_url(*parse_url(text));
    if (!choice) return "error: " + choice.error().message;
    std::string out = !choice->generation                                  ? "?"
                      : *choice->generation == rancher_generation::norman ? "2"
                                                                          : "1";
    if (!choice->project.empty()) out += " " + choice->project;
    return out + " " + choice->api.target;
}

TEST(classify_cattle_url, v3_urls_are_rancher_2_with_or_without_the_project) {
    EXPECT_EQ(classified("https://rancher.example.com/v3"), "2 /v3");
    EXPECT_EQ(classified("https://rancher.example.com/v3/"), "2 /v3");
    EXPECT_EQ(classified("https://rancher.example.com/v3/projects/c-abcde:p-xyz12"), "2 c-abcde:p-xyz12 /v3");
    EXPECT_EQ(classified("https://rancher.example.com/v3/project/local:p-xyz12/"), "2 local:p-xyz12 /v3");
    EXPECT_EQ(classified("https://proxy.example.com/rancher/v3"), "2 /rancher/v3");  // a path prefix is kept
}

TEST(classify_cattle_url, a_bare_origin_is_discovered_and_v1_v2_beta_stay_rancher_1) {
    EXPECT_EQ(classified("https://rancher.example.com"), "? /");
    EXPECT_EQ(classified("https://rancher.example.com/"), "? /");
    EXPECT_EQ(classified("http://rancher:8080/v1"), "1 /v1");
    EXPECT_EQ(classified("http://rancher:8080/v2-beta/projects/1a5"), "1 /v2-beta/projects/1a5");
    EXPECT_EQ(classified("http://rancher:8080/v3-public"), "1 /v3-public");
}

TEST(classify_cattle_url, another_path_under_v3_or_a_query_is_refused) {
    auto const clusters = classified("https://rancher.example.com/v3/clusters");
    EXPECT_TRUE(clusters.starts_with("error: CATTLE_URL")) << clusters;
    EXPECT_NE(clusters.find("/v3/projects/<cluster>:<project>"), std::string::npos) << clusters;
    EXPECT_TRUE(classified("https://rancher.example.com/v3/projects/").starts_with("error:"));
    EXPECT_TRUE(classified("https://rancher.example.com/v3?x=1").starts_with("error:"));
}

}  // namespace
}  // namespace rancher_ecr
