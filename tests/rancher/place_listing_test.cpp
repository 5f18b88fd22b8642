// Target expansion (`environments:` and `projects:` in the targets file): the listings of the places
// a key sees, over a scripted transport, and the pure choice of places and the targets' names.
#include "rancher/place_listing.hpp"

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/fake_transport.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

using rancher_ecr::testing::fake_transport;
using rancher_ecr::testing::run_with_deadline;
using ::testing::HasSubstr;

std::string row(std::string const& type, std::string const& id, std::string const& name, std::string extra = {}) {
    return R"({"id":")" + id + R"(","type":")" + type + R"(","state":"active","name":")" + name + "\"" + extra + "}";
}

std::string page(std::vector<std::string> const& rows, std::string const& next = {}) {
    std::string data;
    for (auto const& r : rows) data += (data.empty() ? "" : ",") + r;
    return R"({"type":"collection","data":[)" + data + R"(],"pagination":)" +
           (next.empty() ? std::string{"{}"} : R"({"partial":true,"next":")" + next + R"("})") + "}";
}

// A norman project row, with the links the writers follow.
std::string project(std::string const& id, std::string const& name, std::string const& cluster) {
    std::string const links = "https://rancher/v3/project/" + id;
    return row("project", id, name,
               R"(,"clusterId":")" + cluster + R"(","links":{"self":"https://rancher/v3/projects/)" + id +
                   R"(","dockerCredentials":")" + links + R"(/dockercredentials","namespacedDockerCredentials":")" +
                   links + R"(/namespaceddockercredentials"})");
}

std::vector<std::string> names_of(std::vector<chosen_place> const& chosen) {
    std::vector<std::string> names;
    for (auto const& c : chosen) names.push_back(c.target_name);
    return names;
}

class place_listing_test : public ::testing::Test {
protected:
    boost::asio::io_context context_;
    fake_transport rancher_;
};

TEST_F(place_listing_test, every_environment_an_account_key_sees_over_every_page) {
    rancher_.route("GET", "/v2-beta/projects",
                   200, page({row("project", "1a5", "Default"), row("project", "1a6", "")},
                             "http://rancher:8080/v2-beta/projects?marker=m2"));
    rancher_.route("GET", "/v2-beta/projects?marker=m2", 200, page({row("project", "1a7", "staging")}));
    auto listed = run_with_deadline(
        context_, list_cattle_environments(rancher_, *parse_url("http://rancher:8080/v2-beta"), "ACCOUNT", "secret"));
    ASSERT_TRUE(listed.has_value()) << listed.error().message;
    ASSERT_EQ(listed->size(), 3u);
    EXPECT_EQ((*listed)[0].id, "1a5");
    EXPECT_EQ((*listed)[0].name, "Default");
    EXPECT_EQ((*listed)[1].name, "1a6");  // no name: its id
    EXPECT_EQ((*listed)[2].name, "staging");
    ASSERT_EQ(rancher_.requests().size(), 2u);
    EXPECT_THAT(std::string{rancher_.requests()[0].request.header("Authorization").value_or("")},
                ::testing::StartsWith("Basic "));
}

TEST_F(place_listing_test, every_project_a_key_sees_named_by_its_cluster) {
    rancher_.route("GET", "/v3/projects", 200,
                   page({project("local:p-00001", "Default", "local"), project("c-abcde:p-xyz12", "Default", "c-abcde"),
                         project("c-gone:p-00009", "apps", "c-gone")}));
    rancher_.route("GET", "/v3/clusters", 200,
                   page({row("cluster", "local", "local"), row("cluster", "c-abcde", "production")}));
    auto listed =
        run_with_deadline(context_, list_norman_projects(rancher_, *parse_url("https://rancher/v3"), "token-ab", "s"));
    ASSERT_TRUE(listed.has_value()) << listed.error().message;
    ASSERT_EQ(listed->size(), 3u);
    EXPECT_EQ((*listed)[0].name, "local/Default");
    EXPECT_EQ((*listed)[1].name, "production/Default");
    EXPECT_EQ((*listed)[2].name, "c-gone/apps");  // a cluster not listed: its id
    EXPECT_THAT(std::string{rancher_.requests()[0].request.header("Authorization").value_or("")},
                ::testing::StartsWith("Bearer "));
}

TEST_F(place_listing_test, a_refused_listing_is_the_rancher_error_with_the_request) {
    rancher_.route("GET", "/v2-beta/projects", 401, R"({"type":"error","status":401,"code":"Unauthorized"})");
    auto listed = run_with_deadline(
        context_, list_cattle_environments(rancher_, *parse_url("http://rancher:8080/v2-beta"), "ACCOUNT", "wrong"));
    ASSERT_FALSE(listed.has_value());
    EXPECT_EQ(listed.error().http_status, 401);
    EXPECT_THAT(listed.error().message, HasSubstr("GET"));
    EXPECT_THAT(listed.error().message, HasSubstr("/v2-beta/projects"));
    EXPECT_THAT(listed.error().message, ::testing::Not(HasSubstr("wrong")));
}

TEST(choose_places, all_takes_every_place_named_after_the_target) {
    std::vector<rancher_place> listed{{"1a5", "Default"}, {"1a6", "staging"}};
    auto choice = choose_places("prod", listed, true, {});
    EXPECT_EQ(names_of(choice.chosen), (std::vector<std::string>{"prod/Default", "prod/staging"}));
    EXPECT_EQ(choice.chosen[1].place.id, "1a6");
    EXPECT_TRUE(choice.not_found.empty());
    EXPECT_TRUE(choice.refused.empty());
}

TEST(choose_places, a_list_takes_places_by_id_name_or_project_name_and_says_which_named_none) {
    std::vector<rancher_place> listed{
        {"local:p-00001", "local/Default"}, {"c-abcde:p-xyz12", "production/apps"}, {"c-abcde:p-00003", "production/web"}};
    std::vector<std::string> wanted{"Default", "c-abcde:p-xyz12", "stagging"};
    auto choice = choose_places("team", listed, false, wanted);
    EXPECT_EQ(names_of(choice.chosen), (std::vector<std::string>{"team/local/Default", "team/production/apps"}));
    EXPECT_EQ(choice.not_found, (std::vector<std::string>{"stagging"}));
}

TEST(choose_places, a_second_place_of_one_name_is_named_by_its_id) {
    std::vector<rancher_place> listed{{"1a5", "Default"}, {"1a9", "Default"}};
    auto choice = choose_places("prod", listed, true, {});
    EXPECT_EQ(names_of(choice.chosen), (std::vector<std::string>{"prod/Default", "prod/1a9"}));
}

TEST(choose_places, a_name_from_the_server_is_shown_printable_and_an_id_unfit_for_a_path_is_refused) {
    std::vector<rancher_place> listed{{"1a5", "evil\nname"}, {"../1a6", "escape"}, {"1a7?x=1", "query"}};
    auto choice = choose_places("prod", listed, true, {});
    EXPECT_EQ(names_of(choice.chosen), (std::vector<std::string>{"prod/evil?name"}));
    EXPECT_EQ(choice.refused, (std::vector<std::string>{"../1a6", "1a7?x=1"}));
}

TEST(choose_places, what_was_missed_is_named_at_most_five_at_a_time) {
    std::vector<rancher_place> listed{{"1a5", "Default"}};
    EXPECT_EQ(describe_missed_places(choose_places("prod", listed, true, {}), "environment", 1), "");
    std::vector<std::string> wanted{"a", "b", "c", "d", "e", "f", "g"};
    auto message = describe_missed_places(choose_places("prod", listed, false, wanted), "environment", 1);
    EXPECT_EQ(message, "environments: \"a\", \"b\", \"c\", \"d\", \"e\" and 2 more named no environment of the 1 "
                       "the key sees; check the names or ids in the targets file");
}

}  // namespace
}  // namespace rancher_ecr
