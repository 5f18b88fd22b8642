// Many targets from one process (TARGETS_FILE): the real binary, moto as ECR (behind a recorder
// that counts GetAuthorizationToken calls), a Rancher 1.x stand-in with several environments and
// an account key, and a Rancher 2.x stand-in.
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/aws_stand_in.hpp"
#include "support/child_process.hpp"
#include "support/ecr_recorder.hpp"
#include "support/end_to_end_test.hpp"
#include "support/eventually.hpp"
#include "support/gunzip.hpp"
#include "support/http_get.hpp"
#include "support/rancher2_stand_in.hpp"
#include "support/rancher_stand_in.hpp"

namespace rancher_ecr {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using rancher_ecr::testing::aws_stand_in;
using rancher_ecr::testing::child_process;
using rancher_ecr::testing::contains;
using rancher_ecr::testing::ecr_recorder;
using rancher_ecr::testing::environment_variables;
using rancher_ecr::testing::rancher2_stand_in;
using rancher_ecr::testing::rancher_stand_in;

bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds deadline = 30s) {
    return rancher_ecr::testing::eventually(condition, deadline);
}

std::string text(json::object const& object, std::string_view name) {
    auto const* value = object.if_contains(name);
    return value != nullptr && value->is_string() ? std::string{value->get_string()} : std::string{};
}

class many_targets_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        aws_ = new aws_stand_in;
        rancher1_ = new rancher_stand_in{{"--environments", "env-a,env-b", "--account-key", "account:account-secret"}};
        rancher2_ = new rancher2_stand_in;
    }
    static void TearDownTestSuite() {
        delete rancher2_;
        delete rancher1_;
        delete aws_;
    }
    void SetUp() override {
        rancher1_->reset();
        rancher2_->reset();
        ecr_ = std::make_unique<ecr_recorder>(aws_->endpoint());
        file_ = ::testing::TempDir() + "many_targets_test_" + std::to_string(::getpid()) + ".yaml";
        port_ = rancher_ecr::testing::free_tcp_port();
    }
    void TearDown() override {
        if (service_) {
            service_->signal(SIGTERM);
            service_->wait(10s);
        }
        std::remove(file_.c_str());
    }

    std::string host(std::string const& region = {}) const {
        return aws_->account_id() + ".dkr.ecr." + (region.empty() ? aws_->region() : region) + ".amazonaws.com";
    }
    std::string password() const { return aws_->account_id() + "-auth-token"; }

    // A 1.x target through the account key: `extra` are more keys of its rancher part.
    std::string cattle_target(std::string const& name, std::string const& extra, std::string const& ecr = "{}") const {
        return "  - name: " + name + "\n    rancher: {url: '" + rancher1_->url() +
               "/v2-beta', access_key: account, secret_key_env: RANCHER1_SECRET, auto_create: true" +
               (extra.empty() ? "" : ", " + extra) + "}\n    ecr: " + ecr + "\n";
    }
    std::string norman_target(std::string const& name, std::string const& extra) const {
        return "  - name: " + name + "\n    rancher: {url: '" + rancher2_->url() + "/v3', access_key: " +
               rancher2_->access_key() + ", secret_key_env: RANCHER2_SECRET, auto_create: true, " + extra + "}\n";
    }
    void write_file(std::string const& targets) const { std::ofstream{file_} << "targets:\n" << targets; }

    environment_variables environment() const {
        return {{"AWS_REGION", aws_->region()},
                {"AWS_ENDPOINT_URL_ECR", ecr_->endpoint()},
                {"AWS_ACCESS_KEY_ID", aws_->user().access_key_id},
                {"AWS_SECRET_ACCESS_KEY", aws_->user().secret_access_key},
                {"AWS_EC2_METADATA_DISABLED", "true"},
                {"TARGETS_FILE", file_},
                {"RANCHER1_SECRET", "account-secret"},
                {"RANCHER2_SECRET", rancher2_->secret_key()},
                {"LISTEN_ADDRESS", "127.0.0.1"},
                {"LISTEN_PORT", std::to_string(port_)},
                {"LOG_LEVEL", "debug"}};
    }
    void start(environment_variables const& env) { service_ = std::make_unique<child_process>(std::vector<std::string>{SERVICE_BINARY}, env); }

    std::optional<http_response> probe(std::string const& path, std::vector<http_header> headers = {}) const {
        return rancher_ecr::testing::http_get("http://127.0.0.1:" + std::to_string(port_) + path, 5s,
                                              std::move(headers));
    }
    std::optional<json::object> health(std::string const& path = "/healthz") {
        log();  // keeps the service's pipe from filling up while a test polls
        auto answer = probe(path);
        if (!answer) return std::nullopt;
        return json::parse(answer->body).as_object();
    }
    // The status of the target `name` in /healthz, "" when it is not listed.
    std::string status_of(std::string const& name) {
        auto body = health();
        if (!body) return {};
        for (auto const& target : body->at("targets").as_array())
            if (text(target.as_object(), "name") == name) return text(target.as_object(), "status");
        return {};
    }
    // The password stored for `registry_host` in the 1.x environment `environment`, "" when none.
    std::string cattle_password(std::string const& environment, std::string const& registry_host) const {
        auto rows = rancher1_->environment(environment);
        std::string registry_id;
        for (auto const& registry : rows.at("registries").as_array())
            if (text(registry.as_object(), "serverAddress") == registry_host) registry_id = text(registry.as_object(), "id");
        for (auto const& credential : rows.at("credentials").as_array())
            if (!registry_id.empty() && text(credential.as_object(), "registryId") == registry_id)
                return text(credential.as_object(), "secretValue");
        return {};
    }
    std::string norman_password(std::string const& project, std::string const& registry_host) const {
        for (auto const& credential : rancher2_->credentials()) {
            if (text(credential, "projectId") != project) continue;
            auto const& registries = credential.at("registries").as_object();
            if (auto const* entry = registries.if_contains(registry_host))
                return text(entry->as_object(), "password");
        }
        return {};
    }
    // Everything the service logged so far (read from its pipe, which must not fill up).
    std::string log() {
        if (!service_) return {};
        service_->wait_for_output("\x01", 50ms);
        return service_->output();
    }

    static aws_stand_in* aws_;
    static rancher_stand_in* rancher1_;
    static rancher2_stand_in* rancher2_;
    std::unique_ptr<ecr_recorder> ecr_;
    std::unique_ptr<child_process> service_;
    std::string file_;
    unsigned short port_ = 0;
};

aws_stand_in* many_targets_test::aws_ = nullptr;
rancher_stand_in* many_targets_test::rancher1_ = nullptr;
rancher2_stand_in* many_targets_test::rancher2_ = nullptr;

TEST_F(many_targets_test, environments_all_writes_every_environment_of_an_account_key_and_picks_up_new_ones) {
    write_file(cattle_target("prod", "environments: all"));
    auto env = environment();
    env["REFRESH_INTERVAL"] = "1s";
    start(env);
    ASSERT_TRUE(eventually([&] {
        return cattle_password("env-a", host()) == password() && cattle_password("env-b", host()) == password();
    })) << log();
    ASSERT_TRUE(eventually([&] { return status_of("prod/env-a") == "ok" && status_of("prod/env-b") == "ok"; })) << log();
    EXPECT_EQ(status_of("prod"), "ok");  // the listing itself
    auto one = probe("/healthz?target=prod/env-b");
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(one->status, 200) << one->body;
    auto body = json::parse(one->body).as_object();
    ASSERT_EQ(body.at("targets").as_array().size(), 1u) << one->body;
    EXPECT_EQ(text(body.at("targets").as_array()[0].as_object(), "name"), "prod/env-b");
    EXPECT_EQ(probe("/healthz?target=prod/env-z")->status, 404);
    auto metrics = probe("/metrics")->body;
    EXPECT_TRUE(contains(metrics, "rancher_ecr_credentials_target_healthy{target=\"prod/env-a\"} 1")) << metrics;
    EXPECT_TRUE(contains(metrics, "rancher_ecr_credentials_last_success_timestamp_seconds{target=\"prod/env-b\"}"))
        << metrics;
    // An environment added later is found at the next listing, and one removed goes from health.
    rancher1_->add_environment("env-c");
    EXPECT_TRUE(eventually([&] { return cattle_password("env-c", host()) == password(); })) << log();
    EXPECT_TRUE(eventually([&] { return status_of("prod/env-c") == "ok"; })) << log();
    // One discovery serves every environment of the listing, env-c's too: the schemas are read once.
    auto const state = rancher1_->state();
    int schema_reads = 0;
    for (auto const& request : state.at("requests").as_array())
        if (text(request.as_object(), "path").ends_with("/schemas")) ++schema_reads;
    EXPECT_EQ(schema_reads, 1) << log();
    rancher1_->remove_environment("env-c");
    EXPECT_TRUE(eventually([&] { return status_of("prod/env-c").empty(); })) << log();
    EXPECT_FALSE(contains(log(), "account-secret")) << log();
    EXPECT_FALSE(contains(log(), password())) << log();
}

TEST_F(many_targets_test, a_listed_name_that_names_no_environment_fails_the_listing_target_not_the_others) {
    write_file(cattle_target("prod", "environments: [env-b, env-typo]"));
    start(environment());
    ASSERT_TRUE(eventually([&] { return cattle_password("env-b", host()) == password(); })) << log();
    ASSERT_TRUE(eventually([&] { return status_of("prod/env-b") == "ok"; })) << log();
    EXPECT_TRUE(cattle_password("env-a", host()).empty());  // not listed in the file: untouched
    ASSERT_TRUE(eventually([&] { return !status_of("prod").empty() && status_of("prod") != "ok"; })) << log();
    auto one = probe("/healthz?target=prod");
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(one->status, 503) << one->body;
    auto const body = json::parse(one->body);
    auto const& entry = body.as_object().at("targets").as_array().at(0).as_object();
    EXPECT_TRUE(contains(text(entry, "last_error"), "\"env-typo\" named no environment of the 2 the key sees"))
        << one->body;
    EXPECT_EQ(probe("/healthz?target=prod/env-b")->status, 200);
}

TEST_F(many_targets_test, a_rancher_1_and_a_rancher_2_server_in_one_file_and_two_regions) {
    write_file(cattle_target("one", "environments: [env-a]") +
               cattle_target("west", "environments: [env-b]", "{region: us-west-2}") +
               norman_target("two", "project: local:p-default"));
    start(environment());
    ASSERT_TRUE(eventually([&] {
        return cattle_password("env-a", host()) == password() && cattle_password("env-b", host("us-west-2")) == password() &&
               norman_password("local:p-default", host()) == password();
    })) << log();
    EXPECT_TRUE(eventually([&] { return probe("/healthz") && probe("/healthz")->status == 200; })) << log();
    // Only env-a for "one": env-b holds the us-west-2 registry alone.
    EXPECT_EQ(cattle_password("env-b", host()), "");
    // One call per region: the two regions are two token sources.
    EXPECT_EQ(ecr_->token_calls(), 2) << log();
}

TEST_F(many_targets_test, one_target_failing_never_holds_back_the_others_and_says_so) {
    write_file(cattle_target("good", "environments: [env-a]") +
               "  - name: bad\n    rancher: {url: '" + rancher1_->url() +
               "/v2-beta', access_key: account, secret_key_env: WRONG_SECRET, auto_create: true, environments: all}\n");
    auto env = environment();
    env["WRONG_SECRET"] = "not-the-secret";
    start(env);
    ASSERT_TRUE(eventually([&] { return cattle_password("env-a", host()) == password(); })) << log();
    ASSERT_TRUE(eventually([&] { return status_of("bad") == "failing" && status_of("good/env-a") == "ok"; })) << log();
    EXPECT_EQ(probe("/healthz")->status, 503);
    EXPECT_EQ(probe("/healthz?target=good/env-a")->status, 200);
    EXPECT_EQ(probe("/healthz?target=bad")->status, 503);
    auto bad = health("/healthz?target=bad");
    EXPECT_TRUE(contains(text(bad->at("targets").as_array()[0].as_object(), "last_error"), "401")) << json::serialize(*bad);
    auto metrics = probe("/metrics")->body;
    EXPECT_TRUE(contains(metrics, "rancher_ecr_credentials_target_healthy{target=\"bad\"} 0")) << metrics;
    EXPECT_TRUE(contains(metrics, "rancher_ecr_credentials_target_healthy{target=\"good/env-a\"} 1")) << metrics;
    EXPECT_FALSE(contains(log(), "not-the-secret")) << log();
}

TEST_F(many_targets_test, sighup_adds_and_removes_targets_and_a_bad_file_keeps_the_old_ones) {
    write_file(cattle_target("first", "environments: [env-a]"));
    start(environment());
    ASSERT_TRUE(eventually([&] { return status_of("first/env-a") == "ok"; })) << log();
    auto const writes_before = rancher1_->state().at("requests").as_array().size();

    write_file(cattle_target("first", "environments: [env-a]") + norman_target("second", "project: local:p-default"));
    service_->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return status_of("second") == "ok"; })) << log();
    EXPECT_EQ(norman_password("local:p-default", host()), password());
    EXPECT_EQ(status_of("first/env-a"), "ok");  // unchanged: kept its state
    EXPECT_EQ(rancher1_->state().at("requests").as_array().size(), writes_before) << "the unchanged target was rewritten";

    std::ofstream{file_} << "targets:\n  - name: broken\n    colour: red\n";
    service_->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] {
        return contains(probe("/metrics")->body, "rancher_ecr_credentials_config_reload_failures_total 1");
    })) << log();
    EXPECT_TRUE(eventually([&] { return contains(log(), ":3:5: targets[0].colour: unknown key"); })) << log();
    EXPECT_TRUE(contains(log(), "targets file is refused")) << log();
    EXPECT_EQ(status_of("second"), "ok");  // the old configuration stays

    write_file(norman_target("second", "project: local:p-default"));
    service_->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return status_of("first").empty() && status_of("first/env-a").empty(); })) << log();
    EXPECT_EQ(status_of("second"), "ok");
    auto metrics = probe("/metrics")->body;
    EXPECT_TRUE(contains(metrics, "rancher_ecr_credentials_config_reloads_total 2")) << metrics;
    EXPECT_FALSE(contains(metrics, "first/env-a")) << metrics;
}

TEST_F(many_targets_test, two_hundred_targets_sharing_one_registry_make_one_token_call_per_round) {
    rancher_stand_in many{{"--environment-count", "200", "--account-key", "account:account-secret"}};
    std::string targets;
    for (int i = 1; i <= 200; ++i)
        targets += "  - name: t" + std::to_string(i) + "\n    rancher: {url: '" + many.url() +
                   "/v2-beta', access_key: account, secret_key_env: RANCHER1_SECRET, auto_create: true, environments: "
                   "[env-" + std::to_string(i) + "]}\n";
    write_file(targets);
    auto env = environment();
    env["REFRESH_INTERVAL"] = "15s";
    start(env);
    ASSERT_TRUE(eventually(
        [&] {
            auto body = health();
            return body && text(*body, "status") == "ok";
        },
        60s))
        << log().substr(0, 3000) << "\n---\n" << json::serialize(*health()).substr(0, 3000);
    EXPECT_EQ(ecr_->token_calls(), 1) << log();
    auto rows = many.environment("env-200");
    EXPECT_EQ(rows.at("credentials").as_array().size(), 1u);

    // The body lists each target and its environment, and not every account again flat; asked
    // with Accept-Encoding: gzip (as Prometheus asks), the same body comes gzip-compressed.
    auto first = health();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->at("targets").as_array().size(), 400u);
    EXPECT_FALSE(first->contains("registries"));
    auto plain = probe("/healthz");
    auto compressed = probe("/healthz", {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(plain && compressed);
    EXPECT_EQ(compressed->header("content-encoding"), "gzip");
    EXPECT_LT(compressed->body.size(), plain->body.size() / 10);
    auto inflated = testing::gunzip(compressed->body);
    ASSERT_TRUE(inflated);
    EXPECT_EQ(json::parse(*inflated), json::parse(plain->body));

    // The second round: every target refreshes again (a later success), and the tokens come from
    // one call again.
    auto latest_success = [](json::object const& body, bool earliest) {
        std::string found;
        for (auto const& target : body.at("targets").as_array()) {
            auto at = text(target.as_object(), "last_success");
            if (found.empty() || (earliest ? at < found : at > found)) found = at;
        }
        return found;
    };
    auto const first_round_ended = latest_success(*first, false);
    ASSERT_TRUE(eventually(
        [&] {
            auto body = health();
            return body && text(*body, "status") == "ok" && latest_success(*body, true) > first_round_ended;
        },
        90s))
        << log().substr(0, 3000);
    EXPECT_EQ(ecr_->token_calls(), 2) << log();
}

// The secret key file is read again at every refresh: a rotated key is taken up, a missing one
// fails that target's refresh and says why.
TEST_F(many_targets_test, the_secret_key_file_is_read_again_at_every_refresh) {
    auto const key_file = ::testing::TempDir() + "many_targets_test_key_" + std::to_string(::getpid());
    std::ofstream{key_file} << "not-the-secret\n";
    write_file("  - name: rotated\n    rancher: {url: '" + rancher1_->url() +
               "/v2-beta', access_key: account, secret_key_file: " + key_file +
               ", auto_create: true, environments: [env-a]}\n");
    auto env = environment();
    env["REFRESH_INTERVAL"] = "1s";
    start(env);
    ASSERT_TRUE(eventually([&] { return status_of("rotated") == "failing"; })) << log();
    std::ofstream{key_file} << "account-secret\n";  // the key rotated in place
    ASSERT_TRUE(eventually([&] { return cattle_password("env-a", host()) == password(); })) << log();
    std::remove(key_file.c_str());
    ASSERT_TRUE(eventually([&] {
        auto body = health("/healthz?target=rotated");
        return body && contains(text(body->at("targets").as_array()[0].as_object(), "last_error"), "cannot be read");
    })) << log();
    EXPECT_FALSE(contains(log(), "account-secret")) << log();
}

// A target whose registries need other AWS credentials: a role assumed with the process's keys, or
// a profile of the shared files. Each identity is a token source of its own.
TEST_F(many_targets_test, role_arn_and_profile_give_a_target_credentials_of_its_own) {
    auto const config = ::testing::TempDir() + "many_targets_test_aws_config";
    std::ofstream{config} << "[profile reader]\naws_access_key_id = " << aws_->user().access_key_id
                          << "\naws_secret_access_key = " << aws_->user().secret_access_key << "\n";
    write_file(cattle_target("plain", "environments: [env-a]") +
               cattle_target("assumed", "environments: [env-b]", "{role_arn: '" + aws_->role_arn() + "'}") +
               norman_target("profiled", "project: local:p-default") + "    ecr: {profile: reader}\n");
    auto env = environment();
    env["AWS_ENDPOINT_URL_STS"] = aws_->endpoint();
    env["AWS_CONFIG_FILE"] = config;
    start(env);
    ASSERT_TRUE(eventually([&] {
        return cattle_password("env-a", host()) == password() && cattle_password("env-b", host()) == password() &&
               norman_password("local:p-default", host()) == password();
    })) << log();
    auto const calls = ecr_->calls();
    EXPECT_EQ(ecr_->token_calls(), 3) << log();  // three identities: three token sources
    std::set<std::string> keys;
    for (auto const& call : calls) keys.insert(call.access_key_id);
    EXPECT_EQ(keys.size(), 2u) << "the role's session keys and the user's (twice)";
    EXPECT_TRUE(keys.contains(aws_->user().access_key_id));
    EXPECT_TRUE(contains(log(), "assumed/env-b: AWS credentials from role " + aws_->role_arn())) << log();
    EXPECT_TRUE(contains(log(), "profiled: AWS credentials from profile reader")) << log();
    std::remove(config.c_str());
}

TEST_F(many_targets_test, once_refreshes_every_target_and_fails_when_one_does) {
    write_file(cattle_target("prod", "environments: all") + norman_target("two", "project: local:p-default"));
    auto result = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once", "--targets", file_}, environment(), 30s);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(cattle_password("env-b", host()), password());
    EXPECT_EQ(norman_password("local:p-default", host()), password());
    rancher2_->add_fault(json::object{{"match", {{"method", "GET"}}}, {"fault", "status"}, {"status", 401}, {"times", 100}});
    result = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, environment(), 30s);
    EXPECT_EQ(result.exit_code, 1) << result.output;
}

TEST_F(many_targets_test, a_bad_file_or_cattle_url_beside_it_stops_the_start_with_status_2) {
    std::ofstream{file_} << "targets:\n  - name: prod\n    rancher: {url: 'http://r:8080/v2-beta', access_key: a,\n"
                            "              secret_key_env: RANCHER1_SECRET, auto_create: sometimes}\n";
    auto result = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, environment(), 30s);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, file_ + ":4:")) << result.output;
    write_file(cattle_target("prod", "environments: all"));
    auto env = environment();
    env["CATTLE_URL"] = rancher1_->url();
    result = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, env, 30s);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, "CATTLE_URL and a targets file")) << result.output;
    env = environment();
    env.erase("RANCHER1_SECRET");
    result = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, env, 30s);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, "RANCHER1_SECRET, which is not set")) << result.output;
}

}  // namespace
}  // namespace rancher_ecr
