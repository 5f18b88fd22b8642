// The real binary end to end against Rancher 2.x (the norman v3 API, spec rancher.md Part 2):
// moto_server (signature checking on) as ECR and the Rancher 2.x stand-in, mostly through
// `--once` runs whose exit status, log and effect on the stand-in's stored credentials are
// checked; the long-running service where retries and the probes matter.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "support/ecr_recorder.hpp"
#include "support/end_to_end_test.hpp"
#include "support/eventually.hpp"
#include "support/rancher2_stand_in.hpp"
#include "support/rancher_stand_in.hpp"
#include "support/test_pki.hpp"
#include "support/tls_front.hpp"

namespace rancher_ecr {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using rancher_ecr::testing::child_process;
using rancher_ecr::testing::command_result;
using rancher_ecr::testing::contains;
using rancher_ecr::testing::ecr_recorder;
using rancher_ecr::testing::environment_variables;
using rancher_ecr::testing::rancher2_stand_in;
using rancher_ecr::testing::rancher_stand_in;
using rancher_ecr::testing::tls_front;

constexpr char project_id[] = "local:p-default";  // "Default" in cluster local: namespaces apps, jobs
constexpr char other_default[] = "c-abcde:p-xyz12";  // "Default" in cluster production: namespace web
constexpr char system_project[] = "local:p-system";  // "System" in cluster local

// The refreshes here go through retries and stand-ins: a longer default deadline.
bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds deadline = 30s) {
    return rancher_ecr::testing::eventually(condition, deadline);
}

std::string text(json::object const& object, std::string_view name) {
    auto const* value = object.if_contains(name);
    return value != nullptr && value->is_string() ? std::string{value->get_string()} : std::string{};
}

json::object registry_entry(std::string const& username, std::string const& password) {
    return {{"username", username}, {"password", password}};
}

class rancher2_service_test : public rancher_ecr::testing::end_to_end_test<rancher2_stand_in> {
protected:
    void SetUp() override {
        end_to_end_test::SetUp();  // the seeded world, no credentials, faults, log or read-only project
        rancher_->control("POST", "/_control/settings", R"({"public_url":null})");  // a reset keeps it
    }

    // A --once run writing into the project-scoped credentials of local:p-default.
    environment_variables environment() const override {
        auto env = end_to_end_test::environment();
        env["CATTLE_URL"] = rancher_->url() + "/v3";
        env["RANCHER_PROJECT"] = project_id;
        return env;
    }

    static command_result run_once(environment_variables const& env) {
        return rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, env, 30s);
    }

    // Seeds a credential through the control API (with description, labels and annotations);
    // returns its id.
    static std::string seed(std::string const& project, std::optional<std::string> const& namespace_name,
                            std::string const& name, json::object registries, json::object extra = {}) {
        json::object body{{"project", project}, {"name", name}, {"registries", std::move(registries)}};
        if (namespace_name)
            body["namespace"] = *namespace_name;
        else
            body["namespace"] = nullptr;
        for (auto const& [key, value] : extra) body[key] = value;
        return text(rancher_->control("POST", "/_control/credentials", json::serialize(body)).as_object(), "id");
    }
    // A credential of `project` holding the moto host with an expired password.
    std::string seed_expired(std::string const& project = project_id,
                             std::optional<std::string> const& namespace_name = std::nullopt,
                             std::string const& name = "ecr") const {
        return seed(project, namespace_name, name, {{host(), registry_entry("AWS", "expired-password")}});
    }

    // The stored entry of `registry_host` in credential `id`, password included.
    static json::object entry_of(std::string const& id, std::string const& registry_host) {
        return rancher_->credential(id).at("registries").as_object().at(registry_host).as_object();
    }
    static std::string password_of(std::string const& id, std::string const& registry_host) {
        return text(entry_of(id, registry_host), "password");
    }

    // The API requests of `method` whose path contains `path`.
    static std::vector<json::object> requests(std::string const& method, std::string const& path = {}) {
        std::vector<json::object> out;
        for (auto& request : rancher_->requests())
            if (text(request, "method") == method && contains(text(request, "path"), path))
                out.push_back(std::move(request));
        return out;
    }
    static std::string request_log() { return json::serialize(rancher_->state().at("requests")); }

    // The credentials stored for `registry_host`, in any project or namespace.
    static std::vector<json::object> credentials_holding(std::string const& registry_host) {
        std::vector<json::object> out;
        for (auto& row : rancher_->credentials())
            if (row.at("registries").as_object().contains(registry_host)) out.push_back(std::move(row));
        return out;
    }

};

TEST_F(rancher2_service_test, once_updates_a_project_credential_and_keeps_its_other_fields) {
    auto const id = seed(project_id, std::nullopt, "ecr", {{host(), registry_entry("AWS", "expired-password")}},
                         {{"description", "pull secret for ECR"},
                          {"labels", {{"team", "platform"}}},
                          {"annotations", {{"example.com/owner", "ops"}}}});
    auto const before = rancher_->credential(id);

    auto const started = std::chrono::steady_clock::now();
    auto const result = run_once(environment());
    auto const elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    RecordProperty("once_refresh_ms", std::to_string(elapsed.count()));
    std::printf("one Rancher 2.x --once refresh (process start to exit): %lld ms\n",
                static_cast<long long>(elapsed.count()));

    ASSERT_EQ(result.exit_code, 0) << result.output;
    auto const after = rancher_->credential(id);
    auto const& registries = after.at("registries").as_object();
    ASSERT_EQ(registries.size(), 1u) << json::serialize(after);
    ASSERT_TRUE(registries.contains(host())) << json::serialize(after);  // the bare host as the key
    EXPECT_EQ(text(registries.at(host()).as_object(), "password"), password());
    EXPECT_EQ(text(registries.at(host()).as_object(), "username"), "AWS");
    for (auto const* field : {"id", "name", "description", "projectId", "uuid", "created"})
        EXPECT_EQ(after.at(field), before.at(field)) << field;
    EXPECT_EQ(after.at("labels"), before.at("labels"));
    EXPECT_EQ(after.at("annotations"), before.at("annotations"));
    EXPECT_TRUE(after.at("namespaceId").is_null());
    EXPECT_EQ(credentials_holding(host()).size(), 1u);  // nothing created

    auto const log = rancher_->requests();
    ASSERT_FALSE(log.empty());
    for (auto const& request : log)
        EXPECT_EQ(text(request, "authorization_scheme"), "Bearer") << json::serialize(request);
    auto const puts = requests("PUT");
    ASSERT_EQ(puts.size(), 1u) << request_log();
    EXPECT_TRUE(text(puts[0], "path").ends_with("/dockercredentials/" + id)) << json::serialize(puts[0]);
    EXPECT_TRUE(contains(result.output, "credential ecr written")) << result.output;
}

TEST_F(rancher2_service_test, once_with_a_namespace_updates_the_namespaced_credential_only) {
    auto const namespaced = seed_expired(project_id, "apps");
    auto const project_wide = seed_expired(project_id, std::nullopt);
    auto const other_namespace = seed_expired(project_id, "jobs");
    auto env = environment();
    env["RANCHER_NAMESPACE"] = "apps";
    auto const result = run_once(env);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(namespaced, "apps:ecr");
    EXPECT_EQ(password_of(namespaced, host()), password());
    EXPECT_EQ(text(entry_of(namespaced, host()), "username"), "AWS");
    EXPECT_EQ(text(rancher_->credential(namespaced), "namespaceId"), "apps");
    EXPECT_EQ(password_of(project_wide, host()), "expired-password");
    EXPECT_EQ(password_of(other_namespace, host()), "expired-password");
    for (auto const& put : requests("PUT"))
        EXPECT_TRUE(contains(text(put, "path"), "/namespaceddockercredentials/apps:ecr")) << json::serialize(put);
    EXPECT_EQ(requests("PUT").size(), 1u) << request_log();
    EXPECT_TRUE(contains(result.output, "namespace apps")) << result.output;
}

TEST_F(rancher2_service_test, once_finds_the_project_by_id_by_name_and_by_cluster_and_name) {
    struct way {
        std::string project_setting;
        std::string project;
    };
    for (auto const& [setting, project] : {way{project_id, project_id}, way{"System", system_project},
                                           way{"local/Default", project_id}, way{"production/Default", other_default}}) {
        SCOPED_TRACE("RANCHER_PROJECT=" + setting);
        rancher_->reset();
        // Every project has a credential for the host: only the one named must change.
        auto const wanted = seed_expired(project);
        std::vector<std::string> others;
        for (std::string const candidate : {project_id, system_project, other_default})
            if (candidate != project) others.push_back(seed_expired(candidate));
        auto env = environment();
        env["RANCHER_PROJECT"] = setting;
        auto const result = run_once(env);
        EXPECT_EQ(result.exit_code, 0) << result.output;
        EXPECT_EQ(password_of(wanted, host()), password()) << result.output;
        for (auto const& other : others) EXPECT_EQ(password_of(other, host()), "expired-password") << other;
    }
}

TEST_F(rancher2_service_test, once_with_an_ambiguous_project_name_fails_listing_both_projects) {
    auto const first = seed_expired(project_id);
    auto const second = seed_expired(other_default);
    auto env = environment();
    env["RANCHER_PROJECT"] = "Default";
    auto const result = run_once(env);
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_TRUE(contains(result.output, "local:p-default in cluster local")) << result.output;
    EXPECT_TRUE(contains(result.output, "c-abcde:p-xyz12 in cluster production")) << result.output;
    EXPECT_TRUE(contains(result.output, "RANCHER_PROJECT")) << result.output;
    EXPECT_EQ(password_of(first, host()), "expired-password");
    EXPECT_EQ(password_of(second, host()), "expired-password");
    EXPECT_TRUE(requests("PUT").empty()) << request_log();
    EXPECT_TRUE(requests("POST").empty()) << request_log();
}

TEST_F(rancher2_service_test, once_takes_the_project_from_cattle_url) {
    auto const wanted = seed_expired(project_id);
    auto const other = seed_expired(system_project);
    auto env = environment();
    env["CATTLE_URL"] = rancher_->url() + "/v3/projects/" + project_id;
    env.erase("RANCHER_PROJECT");
    auto const result = run_once(env);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(password_of(wanted, host()), password());
    EXPECT_EQ(password_of(other, host()), "expired-password");
    EXPECT_TRUE(requests("GET", "/v3/projects/local:p-default").size() >= 1) << request_log();
}

TEST_F(rancher2_service_test, once_with_a_bare_origin_discovers_rancher_2) {
    auto const wanted = seed_expired(project_id);
    auto env = environment();
    env["CATTLE_URL"] = rancher_->url();
    auto const result = run_once(env);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(password_of(wanted, host()), password());
    EXPECT_TRUE(contains(result.output, "speaks the 2.x API")) << result.output;
    auto const log = rancher_->requests();
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(text(log.front(), "method"), "GET");
    EXPECT_EQ(text(log.front(), "path"), "/v3");
    EXPECT_EQ(std::ranges::count_if(log, [](auto const& r) { return text(r, "path") == "/v3"; }), 1) << request_log();
}

TEST_F(rancher2_service_test, once_with_a_bare_origin_of_rancher_1_still_writes_as_1x) {
    rancher_stand_in cattle;
    auto const credential = cattle.add_credential(cattle.add_registry(host()), "AWS", "expired-password");
    auto env = environment();
    env["CATTLE_URL"] = cattle.url();
    env["CATTLE_ACCESS_KEY"] = cattle.access_key();
    env["CATTLE_SECRET_KEY"] = cattle.secret_key();
    env.erase("RANCHER_PROJECT");
    auto const result = run_once(env);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(text(cattle.credential(credential), "secretValue"), password());
    EXPECT_TRUE(contains(result.output, "speaks the 1.x API")) << result.output;
    EXPECT_TRUE(rancher_->requests().empty());
}

// The stand-in lists 1000 rows a page by default (§2.2), as Rancher does, and the service sends
// no limit: the credential sorted after 1000 others is on the second page.
TEST_F(rancher2_service_test, once_finds_the_credential_on_a_later_page) {
    for (int i = 0; i < 1000; ++i) {
        auto const number = std::to_string(1000 + i).substr(1);
        seed(project_id, std::nullopt, "other-" + number,
             {{"registry-" + number + ".example.com", registry_entry("robot", "other-password")}});
    }
    auto const wanted = seed_expired(project_id, std::nullopt, "zz-ecr");  // ids sort: the last row
    auto env = environment();
    env["AUTO_CREATE"] = "true";  // had the service stopped at the first page, it would create one
    auto const result = run_once(env);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(password_of(wanted, host()), password());
    EXPECT_EQ(credentials_holding(host()).size(), 1u);
    EXPECT_TRUE(requests("POST").empty());
    auto const lists = requests("GET", "/dockercredentials");
    ASSERT_EQ(lists.size(), 2u) << request_log();
    EXPECT_TRUE(contains(text(lists[1], "query"), "marker=")) << json::serialize(lists[1]);
    EXPECT_EQ(password_of("p-default:other-000", "registry-000.example.com"), "other-password");
}

TEST_F(rancher2_service_test, once_with_auto_create_creates_the_credential_with_the_default_name) {
    auto env = environment();
    env["AUTO_CREATE"] = "true";
    auto const result = run_once(env);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    auto const created = credentials_holding(host());
    ASSERT_EQ(created.size(), 1u) << request_log();
    auto const expected_name = "ecr-" + aws_->account_id() + "-" + aws_->region();
    EXPECT_EQ(text(created[0], "name"), expected_name);
    EXPECT_EQ(text(created[0], "projectId"), project_id);
    EXPECT_TRUE(created[0].at("namespaceId").is_null());
    EXPECT_EQ(created[0].at("registries").as_object().size(), 1u);
    EXPECT_EQ(password_of(text(created[0], "id"), host()), password());
    EXPECT_EQ(text(entry_of(text(created[0], "id"), host()), "username"), "AWS");
    EXPECT_EQ(requests("POST", "/dockercredentials").size(), 1u) << request_log();
}

TEST_F(rancher2_service_test, once_with_auto_create_and_a_credential_name_uses_that_name) {
    auto env = environment();
    env["AUTO_CREATE"] = "true";
    env["RANCHER_CREDENTIAL_NAME"] = "team-ecr";
    env["RANCHER_NAMESPACE"] = "apps,jobs";
    auto const result = run_once(env);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    for (std::string const ns : {"apps", "jobs"}) {
        SCOPED_TRACE(ns);
        auto const row = rancher_->credential(ns + ":team-ecr");
        EXPECT_EQ(text(row, "type"), "namespacedDockerCredential");
        EXPECT_EQ(text(row, "namespaceId"), ns);
        EXPECT_EQ(password_of(ns + ":team-ecr", host()), password());
    }
    EXPECT_EQ(credentials_holding(host()).size(), 2u);
}

TEST_F(rancher2_service_test, once_without_auto_create_names_the_host_the_project_and_the_namespace) {
    auto const result = run_once(environment());
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_TRUE(contains(result.output, host())) << result.output;
    EXPECT_TRUE(contains(result.output, project_id)) << result.output;
    EXPECT_TRUE(contains(result.output, "AUTO_CREATE")) << result.output;

    auto env = environment();
    env["RANCHER_NAMESPACE"] = "apps";
    auto const namespaced = run_once(env);
    EXPECT_EQ(namespaced.exit_code, 1) << namespaced.output;
    EXPECT_TRUE(contains(namespaced.output, host())) << namespaced.output;
    EXPECT_TRUE(contains(namespaced.output, project_id)) << namespaced.output;
    EXPECT_TRUE(contains(namespaced.output, "namespace apps")) << namespaced.output;

    EXPECT_TRUE(rancher_->credentials().empty());
    EXPECT_TRUE(requests("POST").empty()) << request_log();
}

// Both replicas list no credential (the hold keeps both lists until both are computed), both
// create one under the same name: the loser's 409 makes it list again and update the winner's.
TEST_F(rancher2_service_test, two_replicas_racing_to_create_leave_one_credential) {
    rancher_->add_fault(json::object{{"match", {{"method", "GET"}, {"path_contains", "/dockercredentials"}}},
                                     {"fault", "hold"},
                                     {"parties", 2},
                                     {"seconds", 30}});
    auto env = environment();
    env["AUTO_CREATE"] = "true";
    std::vector<std::unique_ptr<child_process>> replicas;
    for (int i = 0; i < 2; ++i) {
        env["LISTEN_PORT"] = std::to_string(rancher_ecr::testing::free_tcp_port());
        replicas.push_back(std::make_unique<child_process>(std::vector<std::string>{SERVICE_BINARY, "--once"}, env));
    }
    std::string logs;
    std::vector<int> codes;
    for (auto& replica : replicas) {
        auto code = replica->wait(60s);
        codes.push_back(code ? *code : -1);
        logs += "--- replica:\n" + replica->output();
    }
    EXPECT_EQ(codes, (std::vector<int>{0, 0})) << logs;
    auto const creates = requests("POST", "/dockercredentials");
    ASSERT_EQ(creates.size(), 2u) << "the replicas did not race\n" << request_log() << "\n" << logs;
    auto const conflicts = std::ranges::count_if(creates, [](auto const& r) { return r.at("status") == 409; });
    EXPECT_EQ(conflicts, 1) << request_log();
    auto const stored = credentials_holding(host());
    ASSERT_EQ(stored.size(), 1u) << json::serialize(rancher_->state().at("credentials"));
    EXPECT_EQ(password_of(text(stored[0], "id"), host()), password());
    EXPECT_EQ(requests("DELETE").size(), 0u);
}

TEST_F(rancher2_service_test, once_leaves_a_credential_that_also_holds_docker_io_untouched) {
    auto const mixed = seed(project_id, std::nullopt, "mixed",
                            {{host(), registry_entry("AWS", "expired-password")},
                             {"docker.io", registry_entry("hub-user", "hub-password")}});
    auto const result = run_once(environment());
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_EQ(password_of(mixed, "docker.io"), "hub-password");
    EXPECT_EQ(password_of(mixed, host()), "expired-password");
    EXPECT_TRUE(requests("PUT").empty()) << request_log();
    EXPECT_TRUE(requests("POST").empty()) << request_log();
    EXPECT_TRUE(contains(result.output, "credential mixed")) << result.output;
    EXPECT_TRUE(contains(result.output, "docker.io")) << result.output;
}

// moto hands out a token for any registry id (<id>-auth-token).
TEST_F(rancher2_service_test, once_writes_two_accounts_of_one_credential_from_one_token_call) {
    auto const second_host = "222222222222.dkr.ecr." + aws_->region() + ".amazonaws.com";
    auto const both = seed(project_id, std::nullopt, "ecr",
                           {{host(), registry_entry("AWS", "expired-password")},
                            {second_host, registry_entry("AWS", "expired-password-2")}});
    ecr_recorder ecr{aws_->endpoint()};
    auto env = environment();
    env["AWS_ENDPOINT_URL_ECR"] = ecr.endpoint();
    env["AWS_ECR_REGISTRY_IDS"] = aws_->account_id() + ",222222222222";
    auto const result = run_once(env);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(password_of(both, host()), password());
    EXPECT_EQ(password_of(both, second_host), "222222222222-auth-token");
    EXPECT_EQ(ecr.token_calls(), 1);
    auto const puts = requests("PUT");
    ASSERT_FALSE(puts.empty()) << request_log();
    for (auto const& put : puts) {
        auto const& registries = put.at("body").as_object().at("registries").as_object();
        EXPECT_EQ(registries.size(), 2u) << json::serialize(put);
        EXPECT_EQ(text(registries.at(host()).as_object(), "password"), password());
        EXPECT_EQ(text(registries.at(second_host).as_object(), "password"), "222222222222-auth-token");
    }
}

TEST_F(rancher2_service_test, once_with_a_wrong_secret_key_fails_naming_the_api_key) {
    auto const credential = seed_expired();
    auto env = environment();
    env["CATTLE_SECRET_KEY"] = "not-" + rancher_->secret_key();
    auto const result = run_once(env);
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_TRUE(contains(result.output, "401")) << result.output;
    EXPECT_TRUE(contains(result.output, "CATTLE_ACCESS_KEY")) << result.output;
    EXPECT_EQ(password_of(credential, host()), "expired-password");
}

TEST_F(rancher2_service_test, once_in_a_read_only_project_fails_with_permission_denied) {
    auto const credential = seed_expired();
    rancher_->control("POST", "/_control/settings", json::serialize(json::object{{"read_only_projects", {project_id}}}));
    auto const result = run_once(environment());
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_TRUE(contains(result.output, "403")) << result.output;
    EXPECT_TRUE(contains(result.output, "PermissionDenied")) << result.output;
    EXPECT_EQ(password_of(credential, host()), "expired-password");
}

// The write is retried after the backoff (a few seconds here) with the tokens ECR gave first.
TEST_F(rancher2_service_test, rancher_503s_then_recovery_without_asking_ecr_again) {
    auto const credential = seed_expired();
    rancher_->add_fault(json::object{{"match", {{"method", "PUT"}, {"path_contains", "/dockercredentials"}}},
                                     {"fault", "status"},
                                     {"status", 503},
                                     {"times", 2}});
    ecr_recorder ecr{aws_->endpoint()};
    auto env = environment();
    env["AWS_ENDPOINT_URL_ECR"] = ecr.endpoint();
    // The retries follow the failure backoff, not the interval; 30 s keeps the next regular refresh
    // out of this test.
    env["REFRESH_INTERVAL"] = "30s";
    start(env);
    ASSERT_TRUE(eventually([&] { return password_of(credential, host()) == password(); })) << log();
    ASSERT_TRUE(eventually([&] {
        auto answer = probe("/healthz");
        return answer && answer->status == 200;
    })) << log();
    EXPECT_EQ(ecr.token_calls(), 1) << log();
    auto const puts = requests("PUT");
    ASSERT_EQ(puts.size(), 3u) << request_log();
    EXPECT_EQ(puts[0].at("status"), 503);
    EXPECT_EQ(puts[1].at("status"), 503);
    EXPECT_EQ(puts[2].at("status"), 200);
    EXPECT_TRUE(contains(log(), "503")) << log();
    EXPECT_TRUE(contains(log(), "ClusterUnavailable")) << log();

    auto const health = json::parse(probe("/healthz")->body).as_object();
    EXPECT_EQ(text(health, "status"), "ok");
    auto const& entries = health.at("registries").as_array();
    ASSERT_EQ(entries.size(), 1u) << json::serialize(health);
    EXPECT_EQ(text(entries[0].as_object(), "registry"), host());
    EXPECT_EQ(text(entries[0].as_object(), "credential"), "ecr");
    EXPECT_TRUE(entries[0].as_object().at("namespace").is_null()) << json::serialize(entries[0]);  // project-wide
    auto const metrics = probe("/metrics")->body;
    EXPECT_TRUE(contains(metrics, "rancher_ecr_credentials_token_expiry_timestamp_seconds{target=\"default\",registry=\"" + host() +
                                      "\",credential=\"ecr\"}"))
        << metrics;
}

TEST_F(rancher2_service_test, healthz_and_metrics_name_the_credential_and_its_namespace) {
    auto const credential = seed_expired(project_id, "apps", "pull-ecr");
    auto env = environment();
    env["RANCHER_NAMESPACE"] = "apps";
    start(env);
    ASSERT_TRUE(eventually([&] {
        auto answer = probe("/healthz");
        return answer && answer->status == 200;
    })) << log();
    EXPECT_EQ(password_of(credential, host()), password());
    auto const health = json::parse(probe("/healthz")->body).as_object();
    auto const& entries = health.at("registries").as_array();
    ASSERT_EQ(entries.size(), 1u) << json::serialize(health);
    auto const& entry = entries[0].as_object();
    EXPECT_EQ(text(entry, "registry"), host());
    EXPECT_EQ(text(entry, "credential"), "pull-ecr");
    EXPECT_EQ(entry.at("namespace"), json::value("apps")) << json::serialize(entry);
    auto const metrics = probe("/metrics")->body;
    EXPECT_TRUE(contains(metrics, "rancher_ecr_credentials_token_expiry_timestamp_seconds{target=\"default\",registry=\"" + host() +
                                      "\",credential=\"pull-ecr\"}"))
        << metrics;
}

TEST_F(rancher2_service_test, over_tls_cattle_ca_bundle_is_trusted_for_rancher) {
    auto const pki = rancher_ecr::testing::make_test_pki({"localhost"}, {"127.0.0.1"});
    tls_front front{rancher_->url(), pki};
    auto const origin = "https://127.0.0.1:" + std::to_string(front.port());
    rancher_->control("POST", "/_control/settings", json::serialize(json::object{{"public_url", origin}}));
    auto const credential = seed_expired();
    auto env = environment();
    env["CATTLE_URL"] = origin + "/v3";

    auto const untrusted = run_once(env);
    EXPECT_EQ(untrusted.exit_code, 1) << untrusted.output;
    EXPECT_TRUE(contains(untrusted.output, "certificate verify failed")) << untrusted.output;
    // What to do about it.
    EXPECT_TRUE(contains(untrusted.output, "give that CA's PEM file in CATTLE_CA_BUNDLE")) << untrusted.output;
    EXPECT_EQ(password_of(credential, host()), "expired-password");
    EXPECT_TRUE(rancher_->requests().empty()) << request_log();

    env["CATTLE_CA_BUNDLE"] = pki.ca_file;
    auto const trusted = run_once(env);
    ASSERT_EQ(trusted.exit_code, 0) << trusted.output;
    EXPECT_EQ(password_of(credential, host()), password());
    EXPECT_FALSE(rancher_->requests().empty());
}

TEST_F(rancher2_service_test, no_secret_appears_in_the_logs_at_trace) {
    auto const credential = seed_expired();
    auto env = environment();
    env["LOG_LEVEL"] = "trace";
    auto const ok = run_once(env);
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
    EXPECT_EQ(password_of(credential, host()), password());

    // A failing write: the PUT carried the password, Rancher answered 500.
    rancher_->add_fault(json::object{{"match", {{"method", "PUT"}}}, {"fault", "status"}, {"status", 500}});
    auto const failing = run_once(env);
    EXPECT_EQ(failing.exit_code, 1) << failing.output;
    EXPECT_EQ(requests("PUT").size(), 2u) << request_log();

    for (auto const* output : {&ok.output, &failing.output}) {
        EXPECT_TRUE(contains(*output, "trace")) << *output;
        for (auto const& secret : {rancher_->secret_key(), aws_->user().secret_access_key, password(),
                                   std::string{"QVdTOj"} /* base64 "AWS:": the token, or an auth */})
            EXPECT_FALSE(contains(*output, secret)) << "a secret in the log:\n" << *output;
    }
}

TEST_F(rancher2_service_test, config_errors_exit_2_naming_the_variable) {
    struct bad_setting {
        std::string name;
        environment_variables changes;  // an empty value: the variable is removed
        std::string variable;           // what the message must name
    };
    std::vector<bad_setting> const cases{
        {"no project", {{"RANCHER_PROJECT", ""}}, "RANCHER_PROJECT"},
        {"bad credential name", {{"RANCHER_CREDENTIAL_NAME", "Bad_Name"}}, "RANCHER_CREDENTIAL_NAME"},
        {"conflicting project",
         {{"CATTLE_URL", rancher_->url() + "/v3/projects/" + project_id}, {"RANCHER_PROJECT", system_project}},
         "RANCHER_PROJECT"},
    };
    for (auto const& bad : cases) {
        SCOPED_TRACE(bad.name);
        auto env = environment();
        env["AUTO_CREATE"] = "true";
        for (auto const& [name, value] : bad.changes) {
            if (value.empty())
                env.erase(name);
            else
                env[name] = value;
        }
        auto const result = run_once(env);
        EXPECT_EQ(result.exit_code, 2) << result.output;
        EXPECT_TRUE(contains(result.output, bad.variable)) << result.output;
    }
    EXPECT_TRUE(rancher_->requests().empty()) << request_log();
}

}  // namespace
}  // namespace rancher_ecr
