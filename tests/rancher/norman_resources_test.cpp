#include "rancher/norman_resources.hpp"

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

namespace json = boost::json;

std::string const ecr_host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
std::string const other_ecr_host = "210987654321.dkr.ecr.us-east-1.amazonaws.com";

// A dockerCredential as GET lists it (§2.3): no password.
std::string credential_row(std::string const& name, std::vector<std::string> const& hosts,
                           std::string const& namespace_id = "null", bool with_update_link = true) {
    std::string registries;
    for (auto const& host : hosts)
        registries += std::string{registries.empty() ? "" : ","} + "\"" + host + R"(":{"username":"AWS","email":"","description":""})";
    std::string const self = "https://rancher/v3/project/c-abcde:p-xyz12/dockercredentials/p-xyz12:" + name;
    return R"({"id":"p-xyz12:)" + name + R"(","type":"dockerCredential","baseType":"secret","name":")" + name +
           R"(","projectId":"c-abcde:p-xyz12","namespaceId":)" + namespace_id + R"(,"registries":{)" + registries +
           R"(},"links":{"self":")" + self + R"(")" + (with_update_link ? R"(,"update":")" + self + "-u\"" : "") +
           R"(},"created":"2019-05-01T10:00:00Z","createdTS":1556704800000})";
}

std::string collection(std::string const& rows, std::string const& next = {}) {
    std::string pagination = next.empty() ? R"({"limit":1000})" : R"({"limit":1,"next":")" + next + R"(","partial":true})";
    return R"({"type":"collection","resourceType":"dockerCredential","links":{},"actions":{},"data":[)" + rows +
           R"(],"pagination":)" + pagination + "}";
}

norman_credential credential(std::string name, std::vector<std::string> registries) {
    return norman_credential{"p-xyz12:" + name, std::move(name), std::nullopt, std::move(registries), "https://r/u"};
}

TEST(parse_docker_credential_page, reads_names_hosts_links_and_the_next_page) {
    auto page = parse_docker_credential_page(
        collection(credential_row("ecr", {ecr_host}) + "," + credential_row("apps", {"docker.io"}, R"("apps")", false),
                   "https://rancher/v3/project/c-abcde:p-xyz12/dockercredentials?marker=p-xyz12:x"));
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->items.size(), 2u);
    EXPECT_EQ(page->items[0].id, "p-xyz12:ecr");
    EXPECT_EQ(page->items[0].name, "ecr");
    EXPECT_EQ(page->items[0].namespace_id, std::nullopt);
    EXPECT_EQ(page->items[0].registries, std::vector<std::string>{ecr_host});
    EXPECT_TRUE(page->items[0].update_link.ends_with("-u"));  // links.update first
    EXPECT_EQ(page->items[1].namespace_id, "apps");
    EXPECT_TRUE(page->items[1].update_link.ends_with("p-xyz12:apps"));  // else links.self
    EXPECT_EQ(page->next, "https://rancher/v3/project/c-abcde:p-xyz12/dockercredentials?marker=p-xyz12:x");
}

TEST(parse_docker_credential_page, names_what_is_malformed) {
    EXPECT_NE(parse_docker_credential_page("").error().message.find("empty"), std::string::npos);
    EXPECT_NE(parse_docker_credential_page("{\"data\":").error().message.find("not valid JSON"), std::string::npos);
    EXPECT_NE(parse_docker_credential_page(R"({"type":"error"})").error().message.find("data is missing"),
              std::string::npos);
    auto no_name = parse_docker_credential_page(collection(R"({"id":"p:x","links":{"self":"/v3/x"}})"));
    ASSERT_FALSE(no_name);
    EXPECT_NE(no_name.error().message.find("data[0].name is missing"), std::string::npos) << no_name.error().message;
    auto bad_registries =
        parse_docker_credential_page(collection(R"({"id":"p:x","name":"x","registries":[],"links":{"self":"/v3/x"}})"));
    ASSERT_FALSE(bad_registries);
    EXPECT_NE(bad_registries.error().message.find("data[0].registries: expected an object"), std::string::npos);
    auto no_link = parse_docker_credential_page(collection(R"({"id":"p:x","name":"x"})"));
    ASSERT_FALSE(no_link);
    EXPECT_NE(no_link.error().message.find("links.self is missing"), std::string::npos);
    EXPECT_EQ(no_link.error().kind, failure_kind::bad_response);
}

TEST(parse_project, reads_the_credential_links) {
    auto project = parse_project(
        R"({"id":"c-abcde:p-xyz12","type":"project","name":"Default","clusterId":"c-abcde","links":{)"
        R"("self":"https://r/v3/projects/c-abcde:p-xyz12",)"
        R"("dockerCredentials":"https://r/v3/project/c-abcde:p-xyz12/dockercredentials",)"
        R"("namespacedDockerCredentials":"https://r/v3/project/c-abcde:p-xyz12/namespaceddockercredentials"}})");
    ASSERT_TRUE(project) << project.error().message;
    EXPECT_EQ(project->id, "c-abcde:p-xyz12");
    EXPECT_EQ(project->name, "Default");
    EXPECT_EQ(project->cluster_id, "c-abcde");
    EXPECT_EQ(project->docker_credentials_link, "https://r/v3/project/c-abcde:p-xyz12/dockercredentials");
    auto without = parse_project(R"({"id":"c:p","name":"Default","links":{"self":"x"}})");
    ASSERT_FALSE(without);
    EXPECT_NE(without.error().message.find("links.dockerCredentials is missing"), std::string::npos);
}

TEST(is_norman_discovery_answer, tells_rancher_2_from_cattle_and_anything_else) {
    EXPECT_TRUE(is_norman_discovery_answer(200, R"({"type":"collection","resourceType":"schema","data":[]})"));
    EXPECT_TRUE(is_norman_discovery_answer(
        401, R"({"type":"error","status":"401","message":"Unauthorized: must authenticate"})"));
    // Cattle's 401 has an integer status.
    EXPECT_FALSE(is_norman_discovery_answer(
        401, R"({"id":"x","type":"error","status":401,"code":"Unauthorized","message":"Unauthorized"})"));
    EXPECT_FALSE(is_norman_discovery_answer(404, R"({"type":"error","status":"404"})"));
    EXPECT_FALSE(is_norman_discovery_answer(200, "<html>hello</html>"));
    EXPECT_FALSE(is_norman_discovery_answer(200, R"({"type":"schema"})"));
    EXPECT_FALSE(is_norman_discovery_answer(401, ""));
}

TEST(dns1123, accepts_what_kubernetes_accepts) {
    EXPECT_TRUE(is_dns1123_subdomain("ecr-123456789012-us-east-1"));
    EXPECT_TRUE(is_dns1123_subdomain("a.b-c"));
    EXPECT_FALSE(is_dns1123_subdomain(""));
    EXPECT_FALSE(is_dns1123_subdomain("Bad_Name"));
    EXPECT_FALSE(is_dns1123_subdomain("-ecr"));
    EXPECT_FALSE(is_dns1123_subdomain("ecr."));
    EXPECT_FALSE(is_dns1123_subdomain(std::string(254, 'a')));
    EXPECT_TRUE(is_dns1123_label("apps"));
    EXPECT_FALSE(is_dns1123_label("a.b"));
    EXPECT_FALSE(is_dns1123_label(std::string(64, 'a')));
}

TEST(default_credential_name, is_the_account_and_the_region) {
    EXPECT_EQ(default_credential_name(ecr_host), "ecr-123456789012-us-east-1");
    EXPECT_EQ(default_credential_name("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"), "ecr-123456789012-cn-north-1");
    EXPECT_EQ(default_credential_name("Registry.Example:5000"), "ecr-registry-example-5000");
    EXPECT_TRUE(is_dns1123_subdomain(default_credential_name("x_y.z")));
}

TEST(plan_norman_writes, updates_every_credential_that_holds_the_host_whatever_the_form_of_its_key) {
    std::vector<norman_credential> listed{credential("a", {"https://123456789012.DKR.ecr.us-east-1.amazonaws.com/"}),
                                          credential("b", {ecr_host}), credential("c", {"quay.io"})};
    std::vector<std::string> fresh{ecr_host};
    auto plan = plan_norman_writes(listed, fresh, true, std::nullopt);
    ASSERT_EQ(plan.updates.size(), 2u);
    EXPECT_EQ(plan.updates[0].credential.name, "a");
    EXPECT_EQ(plan.updates[0].hosts, std::vector<std::string>{ecr_host});  // written back as the bare host
    EXPECT_EQ(plan.updates[1].credential.name, "b");
    EXPECT_TRUE(plan.left_alone.empty());
    EXPECT_TRUE(plan.creates.empty());  // held already: nothing created
    EXPECT_TRUE(plan.missing.empty());
}

TEST(plan_norman_writes, a_credential_with_another_host_is_refused_and_never_duplicated) {
    std::vector<norman_credential> listed{credential("mixed", {ecr_host, "docker.io"})};
    std::vector<std::string> fresh{ecr_host};
    auto plan = plan_norman_writes(listed, fresh, true, std::nullopt);
    EXPECT_TRUE(plan.updates.empty());
    ASSERT_EQ(plan.left_alone.size(), 1u);
    EXPECT_EQ(plan.left_alone[0].credential.name, "mixed");
    EXPECT_EQ(plan.left_alone[0].foreign_host, "docker.io");
    EXPECT_EQ(plan.left_alone[0].hosts, std::vector<std::string>{ecr_host});
    EXPECT_TRUE(plan.creates.empty());  // AUTO_CREATE makes no second credential for the host
}

TEST(plan_norman_writes, a_credential_with_two_fresh_hosts_is_written_whole_once) {
    std::vector<norman_credential> listed{credential("both", {ecr_host, other_ecr_host, ecr_host + "/"})};
    std::vector<std::string> fresh{ecr_host, other_ecr_host};
    auto plan = plan_norman_writes(listed, fresh, false, std::nullopt);
    ASSERT_EQ(plan.updates.size(), 1u);
    EXPECT_EQ(plan.updates[0].hosts, (std::vector<std::string>{ecr_host, other_ecr_host}));  // one entry per host
    EXPECT_TRUE(plan.missing.empty());
}

TEST(plan_norman_writes, hosts_no_credential_holds_are_created_or_missing) {
    std::vector<norman_credential> listed{credential("other", {"quay.io"})};
    std::vector<std::string> fresh{ecr_host, other_ecr_host};
    auto per_account = plan_norman_writes(listed, fresh, true, std::nullopt);
    ASSERT_EQ(per_account.creates.size(), 2u);
    EXPECT_EQ(per_account.creates[0].name, "ecr-123456789012-us-east-1");
    EXPECT_EQ(per_account.creates[0].hosts, std::vector<std::string>{ecr_host});
    EXPECT_EQ(per_account.creates[1].name, "ecr-210987654321-us-east-1");
    auto named = plan_norman_writes(listed, fresh, true, std::string{"ecr"});
    ASSERT_EQ(named.creates.size(), 1u);
    EXPECT_EQ(named.creates[0].name, "ecr");
    EXPECT_EQ(named.creates[0].hosts, fresh);
    auto off = plan_norman_writes(listed, fresh, false, std::nullopt);
    EXPECT_TRUE(off.creates.empty());
    EXPECT_EQ(off.missing, fresh);
}

TEST(docker_credential_bodies, carry_every_host_with_its_password_and_nothing_else) {
    std::vector<std::pair<std::string, std::string>> passwords{{ecr_host, "p1"}, {other_ecr_host, "p2"}};
    auto update = json::parse(docker_credential_update_body(passwords, "AWS")).as_object();
    EXPECT_EQ(update.size(), 1u);  // the registries only: Rancher keeps the other fields
    auto const& registries = update.at("registries").as_object();
    EXPECT_EQ(registries.size(), 2u);
    EXPECT_EQ(registries.at(ecr_host).at("username").as_string(), "AWS");
    EXPECT_EQ(registries.at(ecr_host).at("password").as_string(), "p1");
    EXPECT_EQ(registries.at(other_ecr_host).at("password").as_string(), "p2");

    auto project = json::parse(docker_credential_create_body("ecr", std::nullopt, passwords, "AWS")).as_object();
    EXPECT_EQ(project.at("type").as_string(), "dockerCredential");
    EXPECT_EQ(project.at("name").as_string(), "ecr");
    EXPECT_FALSE(project.contains("namespaceId"));
    EXPECT_EQ(project.at("registries").as_object().size(), 2u);
    auto namespaced = json::parse(docker_credential_create_body("ecr", std::string{"apps"}, passwords, "AWS")).as_object();
    EXPECT_EQ(namespaced.at("type").as_string(), "namespacedDockerCredential");
    EXPECT_EQ(namespaced.at("namespaceId").as_string(), "apps");
}

TEST(parse_norman_error, reads_string_and_integer_statuses_with_a_hint) {
    auto unauthenticated = parse_norman_error(
        401, R"({"type":"error","status":"401","message":"Unauthorized: must authenticate"})", "Rancher GET /v3/projects");
    EXPECT_EQ(unauthenticated.kind, failure_kind::service);
    EXPECT_EQ(unauthenticated.http_status, 401);
    EXPECT_FALSE(unauthenticated.retryable);
    EXPECT_NE(unauthenticated.message.find("must authenticate"), std::string::npos) << unauthenticated.message;
    EXPECT_NE(unauthenticated.message.find("CATTLE_ACCESS_KEY"), std::string::npos);
    EXPECT_EQ(unauthenticated.message.find("not a Rancher error"), std::string::npos);

    auto field = parse_norman_error(
        422, R"({"type":"error","status":422,"code":"InvalidFormat","fieldName":"name","message":"invalid"})", "POST");
    EXPECT_EQ(field.code, "InvalidFormat");
    EXPECT_NE(field.message.find(", field name"), std::string::npos) << field.message;

    auto busy = parse_norman_error(503, R"({"type":"error","status":503,"code":"ClusterUnavailable"})", "PUT");
    EXPECT_TRUE(busy.retryable);
    EXPECT_NE(busy.message.find("cluster is unavailable"), std::string::npos);
    auto denied = parse_norman_error(403, R"({"type":"error","status":403,"code":"PermissionDenied","message":"unauthorized"})", "PUT");
    EXPECT_FALSE(denied.retryable);
    EXPECT_NE(denied.message.find("PermissionDenied"), std::string::npos);
    EXPECT_NE(denied.message.find("secrets in this project"), std::string::npos);
}

}  // namespace
}  // namespace rancher_ecr
