// The writers' request sequences over a scripted transport: no sockets, no threads.
#include "rancher/norman_writer.hpp"

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "rancher/cattle_writer.hpp"
#include "rancher/discovering_writer.hpp"
#include "rancher/rancher_client.hpp"
#include "support/fake_transport.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

namespace json = boost::json;
using rancher_ecr::testing::fake_transport;
using rancher_ecr::testing::run_with_deadline;

std::string const ecr_host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
std::string const other_ecr_host = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
std::string const project_path = "/v3/project/c-abcde:p-xyz12";
auto const expires = std::chrono::system_clock::time_point{std::chrono::seconds{1'800'043'200}};

std::string project_json(std::string const& id = "c-abcde:p-xyz12", std::string const& name = "Default",
                         std::string const& cluster = "c-abcde") {
    // Links on another host, as a Rancher behind a proxy writes them: requests stay on CATTLE_URL's.
    return R"({"id":")" + id + R"(","type":"project","name":")" + name + R"(","clusterId":")" + cluster +
           R"(","links":{"self":"https://internal/v3/projects/)" + id +
           R"(","dockerCredentials":"https://internal/v3/project/)" + id +
           R"(/dockercredentials","namespacedDockerCredentials":"https://internal/v3/project/)" + id +
           R"(/namespaceddockercredentials"}})";
}

std::string credential_json(std::string const& name, std::vector<std::string> const& hosts,
                            std::optional<std::string> const& namespace_id = std::nullopt) {
    json::object registries;
    for (auto const& host : hosts) registries[host] = json::object{{"username", "AWS"}, {"email", ""}};
    auto const collection = namespace_id ? "namespaceddockercredentials" : "dockercredentials";
    auto const id = (namespace_id ? *namespace_id : std::string{"p-xyz12"}) + ":" + name;
    json::object row{{"id", id},
                     {"type", namespace_id ? "namespacedDockerCredential" : "dockerCredential"},
                     {"name", name},
                     {"namespaceId", namespace_id ? json::value(*namespace_id) : json::value(nullptr)},
                     {"registries", registries},
                     {"links", json::object{{"self", "https://internal" + project_path + "/" + collection + "/" + id},
                                            {"update", "https://internal" + project_path + "/" + collection + "/" + id}}}};
    return json::serialize(row);
}

std::string collection_json(std::vector<std::string> const& rows, std::string const& next = {}) {
    std::string data;
    for (auto const& row : rows) data += (data.empty() ? "" : ",") + row;
    return R"({"type":"collection","data":[)" + data + R"(],"pagination":)" +
           (next.empty() ? std::string{R"({"limit":1000})"} : R"({"limit":1,"partial":true,"next":")" + next + R"("})") +
           "}";
}

ecr_authorization token(std::string host, std::string password) {
    return ecr_authorization{std::move(host), "AWS", std::move(password), expires};
}

class norman_writer_test : public ::testing::Test {
protected:
    write_report write(norman_place place, std::vector<ecr_authorization> const& tokens) {
        norman_writer writer{transport_, *parse_url("https://rancher.example.com/v3"), "token-abcde", "s3cret-key",
                             std::move(place)};
        return run_with_deadline(context_, writer.write(tokens));
    }
    void route_project() {
        transport_.route("GET", "/v3/projects/c-abcde:p-xyz12", 200, project_json());
    }
    std::vector<json::object> bodies_of(std::string const& method) const {
        std::vector<json::object> out;
        for (auto const& sent : transport_.requests())
            if (sent.request.method == method) out.push_back(json::parse(sent.request.body).as_object());
        return out;
    }

    boost::asio::io_context context_;
    fake_transport transport_;
};

TEST_F(norman_writer_test, updates_the_project_credential_with_the_whole_map_and_the_bearer_key) {
    route_project();
    transport_.route("GET", project_path + "/dockercredentials", 200,
                     collection_json({credential_json("ecr", {"https://" + ecr_host + "/"})}));
    transport_.route("PUT", project_path + "/dockercredentials/p-xyz12:ecr", 200, credential_json("ecr", {ecr_host}));
    auto report = write({"c-abcde:p-xyz12", {}, std::nullopt, false}, {token(ecr_host, "fresh-password-1")});

    ASSERT_EQ(report.hosts.size(), 1u);
    EXPECT_FALSE(report.hosts[0].problem) << report.hosts[0].problem->message;
    EXPECT_EQ(report.hosts[0].credential, "ecr");
    EXPECT_EQ(report.hosts[0].namespace_name, std::nullopt);
    EXPECT_EQ(transport_.request_lines(),
              (std::vector<std::string>{"GET /v3/projects/c-abcde:p-xyz12", "GET " + project_path + "/dockercredentials",
                                        "PUT " + project_path + "/dockercredentials/p-xyz12:ecr"}));
    for (auto const& sent : transport_.requests()) {
        EXPECT_EQ(sent.endpoint.host, "rancher.example.com");  // never the links' host
        EXPECT_EQ(sent.request.header("Authorization"), "Bearer token-abcde:s3cret-key");
    }
    auto const put = bodies_of("PUT").at(0);
    auto const& registries = put.at("registries").as_object();
    ASSERT_EQ(registries.size(), 1u);  // "https://HOST/" written back as the bare host
    EXPECT_EQ(registries.at(ecr_host).at("password").as_string(), "fresh-password-1");
    EXPECT_EQ(registries.at(ecr_host).at("username").as_string(), "AWS");
}

TEST_F(norman_writer_test, a_credential_that_also_holds_docker_io_is_never_written) {
    route_project();
    transport_.route("GET", project_path + "/dockercredentials", 200,
                     collection_json({credential_json("mixed", {ecr_host, "docker.io"})}));
    auto report = write({"c-abcde:p-xyz12", {}, std::nullopt, true}, {token(ecr_host, "fresh-password-1")});
    ASSERT_EQ(report.hosts.size(), 1u);
    ASSERT_TRUE(report.hosts[0].problem);
    EXPECT_EQ(report.hosts[0].problem->refused, refusal::foreign_host);
    EXPECT_FALSE(report.hosts[0].problem->retryable);
    EXPECT_NE(report.hosts[0].problem->message.find("credential mixed"), std::string::npos);
    EXPECT_NE(report.hosts[0].problem->message.find("docker.io"), std::string::npos);
    EXPECT_NE(report.hosts[0].problem->message.find("a credential of their own"), std::string::npos);
    EXPECT_TRUE(bodies_of("PUT").empty());
    EXPECT_TRUE(bodies_of("POST").empty());  // AUTO_CREATE makes no second credential for the host
}

TEST_F(norman_writer_test, two_accounts_in_one_credential_go_in_one_put) {
    route_project();
    transport_.route("GET", project_path + "/dockercredentials", 200,
                     collection_json({credential_json("both", {ecr_host, other_ecr_host})}));
    transport_.route("PUT", project_path, 200, credential_json("both", {ecr_host, other_ecr_host}));
    auto report = write({"c-abcde:p-xyz12", {}, std::nullopt, false},
                        {token(ecr_host, "fresh-password-1"), token(other_ecr_host, "fresh-password-2")});
    ASSERT_EQ(report.hosts.size(), 2u);
    EXPECT_FALSE(report.hosts[0].problem);
    EXPECT_FALSE(report.hosts[1].problem);
    auto const puts = bodies_of("PUT");
    ASSERT_EQ(puts.size(), 1u);
    auto const& registries = puts[0].at("registries").as_object();
    EXPECT_EQ(registries.at(ecr_host).at("password").as_string(), "fresh-password-1");
    EXPECT_EQ(registries.at(other_ecr_host).at("password").as_string(), "fresh-password-2");
}

TEST_F(norman_writer_test, a_409_on_create_means_a_replica_made_it_first_so_it_is_updated) {
    route_project();
    int lists = 0;
    transport_.route("GET", project_path + "/dockercredentials", [&](http_request const&) -> result<http_response> {
        ++lists;
        return http_response{200, {}, collection_json(lists == 1 ? std::vector<std::string>{}
                                                                 : std::vector{credential_json("ecr-made", {ecr_host})})};
    });
    transport_.route("POST", project_path + "/dockercredentials", 409,
                     R"({"type":"error","status":409,"code":"AlreadyExists","message":"secrets \"x\" already exists"})");
    transport_.route("PUT", project_path, 200, credential_json("ecr-made", {ecr_host}));
    auto report = write({"c-abcde:p-xyz12", {}, std::string{"ecr-made"}, true}, {token(ecr_host, "fresh-password-1")});
    ASSERT_EQ(report.hosts.size(), 1u);
    EXPECT_FALSE(report.hosts[0].problem) << report.hosts[0].problem->message;
    EXPECT_EQ(report.hosts[0].credential, "ecr-made");
    EXPECT_EQ(transport_.request_lines(),
              (std::vector<std::string>{"GET /v3/projects/c-abcde:p-xyz12", "GET " + project_path + "/dockercredentials",
                                        "POST " + project_path + "/dockercredentials",
                                        "GET " + project_path + "/dockercredentials",
                                        "PUT " + project_path + "/dockercredentials/p-xyz12:ecr-made"}));
    auto const post = bodies_of("POST").at(0);
    EXPECT_EQ(post.at("name").as_string(), "ecr-made");
    EXPECT_EQ(post.at("type").as_string(), "dockerCredential");
}

// What a replica created may hold a host that an earlier round wrote elsewhere: it is a fresh host
// all the same, so the credential is written whole, not refused.
TEST_F(norman_writer_test, after_a_409_a_credential_with_a_host_written_earlier_is_written_whole) {
    route_project();
    int lists = 0;
    transport_.route("GET", project_path + "/dockercredentials", [&](http_request const&) -> result<http_response> {
        ++lists;
        std::vector<std::string> rows{credential_json("other-only", {other_ecr_host})};
        if (lists > 1) rows.push_back(credential_json("ecr-123456789012-us-east-1", {ecr_host, other_ecr_host}));
        return http_response{200, {}, collection_json(rows)};
    });
    transport_.route("POST", project_path + "/dockercredentials", 409,
                     R"({"type":"error","status":409,"code":"AlreadyExists","message":"exists"})");
    transport_.route("PUT", project_path, 200, "{}");
    auto report = write({"c-abcde:p-xyz12", {}, std::nullopt, true},
                        {token(ecr_host, "fresh-password-1"), token(other_ecr_host, "fresh-password-2")});
    ASSERT_EQ(report.hosts.size(), 2u);
    for (auto const& entry : report.hosts) EXPECT_FALSE(entry.problem) << entry.problem->message;
    auto const puts = bodies_of("PUT");
    ASSERT_EQ(puts.size(), 2u);  // other-only in the first round, the replica's in the second
    EXPECT_EQ(puts[1].at("registries").as_object().size(), 2u);
    EXPECT_EQ(transport_.request_lines().back(),
              "PUT " + project_path + "/dockercredentials/p-xyz12:ecr-123456789012-us-east-1");
}

TEST_F(norman_writer_test, a_422_on_the_name_names_rancher_credential_name) {
    route_project();
    transport_.route("GET", project_path + "/dockercredentials", 200, collection_json({}));
    transport_.route("POST", project_path + "/dockercredentials", 422,
                     R"({"type":"error","status":422,"code":"InvalidFormat","fieldName":"name","message":"bad"})");
    auto report = write({"c-abcde:p-xyz12", {}, std::string{"x"}, true}, {token(ecr_host, "fresh-password-1")});
    ASSERT_TRUE(report.hosts.at(0).problem);
    EXPECT_NE(report.hosts[0].problem->message.find("RANCHER_CREDENTIAL_NAME"), std::string::npos)
        << report.hosts[0].problem->message;
}

TEST_F(norman_writer_test, without_auto_create_a_missing_credential_names_the_host_project_and_namespace) {
    route_project();
    transport_.route("GET", project_path + "/namespaceddockercredentials", 200, collection_json({}));
    auto report = write({"c-abcde:p-xyz12", {"apps"}, std::nullopt, false}, {token(ecr_host, "fresh-password-1")});
    ASSERT_TRUE(report.hosts.at(0).problem);
    auto const& message = report.hosts[0].problem->message;
    EXPECT_EQ(report.hosts[0].problem->refused, refusal::registry_not_found);
    for (auto part : {ecr_host.c_str(), "c-abcde:p-xyz12", "namespace apps", "AUTO_CREATE"})
        EXPECT_NE(message.find(part), std::string::npos) << part << " missing from " << message;
    EXPECT_TRUE(bodies_of("POST").empty());
}

TEST_F(norman_writer_test, namespaced_credentials_are_listed_by_namespace_and_filtered_again) {
    route_project();
    // A server that ignored ?namespaceId= also returns another namespace's credential.
    transport_.route("GET", project_path + "/namespaceddockercredentials", 200,
                     collection_json({credential_json("ecr", {ecr_host}, "apps"), credential_json("ecr", {ecr_host}, "jobs")}));
    transport_.route("PUT", project_path, 200, "{}");
    auto report = write({"c-abcde:p-xyz12", {"apps"}, std::nullopt, false}, {token(ecr_host, "fresh-password-1")});
    EXPECT_FALSE(report.hosts.at(0).problem);
    EXPECT_EQ(report.hosts[0].namespace_name, "apps");
    auto const lines = transport_.request_lines();
    EXPECT_EQ(lines.at(1), "GET " + project_path + "/namespaceddockercredentials?namespaceId=apps");
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[2], "PUT " + project_path + "/namespaceddockercredentials/apps:ecr");
}

TEST_F(norman_writer_test, every_page_is_read) {
    route_project();
    transport_.route("GET", project_path + "/dockercredentials", 200,
                     collection_json({credential_json("other", {"quay.io"})},
                                     "https://internal" + project_path + "/dockercredentials?limit=1&marker=p2"));
    transport_.route("GET", project_path + "/dockercredentials?limit=1&marker=p2", 200,
                     collection_json({credential_json("ecr", {ecr_host})}));
    transport_.route("PUT", project_path, 200, "{}");
    auto report = write({"c-abcde:p-xyz12", {}, std::nullopt, false}, {token(ecr_host, "fresh-password-1")});
    EXPECT_FALSE(report.hosts.at(0).problem);
    EXPECT_EQ(report.hosts[0].credential, "ecr");
    EXPECT_EQ(bodies_of("PUT").size(), 1u);
}

TEST_F(norman_writer_test, a_project_name_that_matches_several_lists_them_with_their_clusters) {
    transport_.route("GET", "/v3/clusters", 200,
                     R"({"type":"collection","data":[{"id":"local","name":"local"},{"id":"c-abcde","name":"production"}]})");
    transport_.route("GET", "/v3/projects?name=Default", 200,
                     collection_json({project_json("local:p-default", "Default", "local"), project_json()}));
    auto report = write({"Default", {}, std::nullopt, false}, {token(ecr_host, "fresh-password-1")});
    ASSERT_TRUE(report.hosts.at(0).problem);
    auto const& message = report.hosts[0].problem->message;
    EXPECT_EQ(report.hosts[0].problem->refused, refusal::project_ambiguous);
    EXPECT_NE(message.find("local:p-default in cluster local"), std::string::npos) << message;
    EXPECT_NE(message.find("c-abcde:p-xyz12 in cluster production"), std::string::npos) << message;
    EXPECT_TRUE(bodies_of("PUT").empty());
}

TEST_F(norman_writer_test, cluster_slash_project_picks_the_project_of_that_cluster) {
    transport_.route("GET", "/v3/clusters", 200,
                     R"({"type":"collection","data":[{"id":"local","name":"local"},{"id":"c-abcde","name":"production"}]})");
    transport_.route("GET", "/v3/projects?name=Default", 200,
                     collection_json({project_json("local:p-default", "Default", "local"), project_json()}));
    transport_.route("GET", project_path + "/dockercredentials", 200, collection_json({credential_json("ecr", {ecr_host})}));
    transport_.route("PUT", project_path, 200, "{}");
    auto report = write({"production/Default", {}, std::nullopt, false}, {token(ecr_host, "fresh-password-1")});
    EXPECT_FALSE(report.hosts.at(0).problem) << report.hosts[0].problem->message;
    EXPECT_EQ(transport_.request_lines().back(), "PUT " + project_path + "/dockercredentials/p-xyz12:ecr");
}

TEST_F(norman_writer_test, an_unknown_project_id_is_refused_and_a_503_is_retryable) {
    transport_.route("GET", "/v3/projects/c-abcde:p-xyz12", 404,
                     R"({"type":"error","status":404,"code":"NotFound","message":"not found"})");
    auto missing = write({"c-abcde:p-xyz12", {}, std::nullopt, false}, {token(ecr_host, "fresh-password-1")});
    ASSERT_TRUE(missing.hosts.at(0).problem);
    EXPECT_EQ(missing.hosts[0].problem->refused, refusal::project_not_found);
    EXPECT_NE(missing.hosts[0].problem->message.find("RANCHER_PROJECT"), std::string::npos);

    route_project();
    transport_.route("GET", project_path + "/dockercredentials", 503,
                     R"({"type":"error","status":503,"code":"ClusterUnavailable","message":"cluster not ready"})");
    auto busy = write({"c-abcde:p-xyz12", {}, std::nullopt, false}, {token(ecr_host, "fresh-password-1")});
    ASSERT_TRUE(busy.hosts.at(0).problem);
    EXPECT_TRUE(busy.hosts[0].problem->retryable);
    EXPECT_NE(busy.hosts[0].problem->message.find("ClusterUnavailable"), std::string::npos);
}

TEST_F(norman_writer_test, a_bare_origin_is_asked_which_api_it_speaks) {
    transport_.route("GET", "/v3", 401, R"({"type":"error","status":"401","message":"Unauthorized: must authenticate"})");
    std::optional<rancher_generation> found;
    discovering_writer writer{transport_, *parse_url("https://rancher.example.com"), "token-abcde", "s3cret-key",
                              [&](rancher_generation generation) -> std::unique_ptr<credential_writer> {
                                  found = generation;
                                  return std::make_unique<norman_writer>(
                                      transport_, *parse_url("https://rancher.example.com/v3"), "token-abcde",
                                      "s3cret-key", norman_place{"c-abcde:p-xyz12", {}, std::nullopt, false});
                              }};
    route_project();
    transport_.route("GET", project_path + "/dockercredentials", 200, collection_json({credential_json("ecr", {ecr_host})}));
    transport_.route("PUT", project_path, 200, "{}");
    std::vector<ecr_authorization> tokens{token(ecr_host, "fresh-password-1")};
    auto report = run_with_deadline(context_, writer.write(tokens));
    EXPECT_EQ(found, rancher_generation::norman);
    EXPECT_FALSE(report.hosts.at(0).problem);
    run_with_deadline(context_, writer.write(tokens));
    auto const lines = transport_.request_lines();
    EXPECT_EQ(std::ranges::count(lines, std::string{"GET /v3"}), 1);  // asked once, kept
}

TEST_F(norman_writer_test, the_cattle_writer_reports_a_missing_registry_per_host) {
    transport_.route("GET", "/v2-beta", [](http_request const&) -> result<http_response> {
        return http_response{200, {{"X-API-Schemas", "https://rancher.example.com/v2-beta/schemas"}}, "{}"};
    });
    transport_.route("GET", "/v2-beta/schemas", 200,
                     R"({"data":[{"id":"registry","links":{"collection":"https://rancher.example.com/v2-beta/registries"}},)"
                     R"({"id":"registryCredential","links":{"collection":"https://rancher.example.com/v2-beta/registrycredentials"}}]})");
    transport_.route("GET", "/v2-beta/registries", 200, R"({"type":"collection","data":[]})");
    rancher_client client{transport_, *parse_url("https://rancher.example.com/v2-beta"), "ak", "sk"};
    cattle_writer writer{client, false};
    std::vector<ecr_authorization> tokens{token(ecr_host, "fresh-password-1"), token(other_ecr_host, "fresh-password-2")};
    auto report = run_with_deadline(context_, writer.write(tokens));
    ASSERT_EQ(report.hosts.size(), 2u);
    for (auto const& entry : report.hosts) {
        ASSERT_TRUE(entry.problem);
        EXPECT_EQ(entry.problem->refused, refusal::registry_not_found);
        EXPECT_NE(entry.problem->message.find(entry.registry_host), std::string::npos);
    }
    EXPECT_EQ(transport_.request_lines().back(), "GET /v2-beta/registries");
}

}  // namespace
}  // namespace rancher_ecr
