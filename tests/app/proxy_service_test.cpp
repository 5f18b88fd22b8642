// The real binary through a real proxy (squid on loopback): ECR over TLS (moto behind a TLS front
// with a test CA) through a CONNECT tunnel, the Rancher stand-in over plain HTTP in absolute form;
// NO_PROXY sending both direct; a proxy that is down, then back; wrong proxy credentials.
#include <algorithm>
#include <functional>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "net/http_message.hpp"
#include "support/child_process.hpp"
#include "support/end_to_end_test.hpp"
#include "support/eventually.hpp"
#include "support/rancher_stand_in.hpp"
#include "support/test_pki.hpp"
#include "support/squid_proxy.hpp"
#include "support/tls_front.hpp"

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using rancher_ecr::testing::child_process;
using rancher_ecr::testing::contains;
using rancher_ecr::testing::environment_variables;
using rancher_ecr::testing::rancher_stand_in;
using rancher_ecr::testing::squid_proxy;
using rancher_ecr::testing::tls_front;

constexpr char proxy_user[] = "ecr-proxy-user";
constexpr char proxy_password[] = "S3cret.Proxy_pass-77";

// The refreshes here go through retries and stand-ins: a longer default deadline.
bool eventually(std::function<bool()> const& condition, std::chrono::milliseconds deadline = 30s) {
    return rancher_ecr::testing::eventually(condition, deadline);
}

std::size_t count_starting_with(std::vector<std::string> const& lines, std::string const& prefix) {
    return static_cast<std::size_t>(std::ranges::count_if(lines, [&](auto const& l) { return l.starts_with(prefix); }));
}

class proxy_service_test : public rancher_ecr::testing::end_to_end_test<rancher_stand_in> {
protected:
    static void SetUpTestSuite() {
        end_to_end_test::SetUpTestSuite();
        pki_ = new rancher_ecr::testing::test_pki{rancher_ecr::testing::make_test_pki({"localhost"}, {})};
        ecr_front_ = new tls_front{aws_->endpoint(), *pki_};  // with a certificate for localhost
    }
    static void TearDownTestSuite() {
        delete ecr_front_;
        delete pki_;
        end_to_end_test::TearDownTestSuite();
    }

    std::string ecr_endpoint() const { return "https://localhost:" + std::to_string(ecr_front_->port()); }

    // ECR over TLS and Rancher over plain HTTP, both through `proxy_url`, logging at trace.
    using end_to_end_test::environment;
    environment_variables environment(std::string const& proxy_url) const {
        auto env = end_to_end_test::environment();
        env["AWS_ENDPOINT_URL_ECR"] = ecr_endpoint();
        env["AWS_CA_BUNDLE"] = pki_->ca_file;
        env["HTTPS_PROXY"] = proxy_url;
        env["HTTP_PROXY"] = proxy_url;
        env["LOG_LEVEL"] = "trace";
        return env;
    }

    std::string secret_of(std::string const& credential_id) {
        auto const stored = rancher_->credential(credential_id);
        auto const& value = stored.at("secretValue");
        return value.is_string() ? std::string{value.as_string()} : std::string{};
    }

    // Neither the proxy's password nor its Basic credentials anywhere in `text`.
    static void expect_no_proxy_secret(std::string const& text) {
        EXPECT_FALSE(contains(text, proxy_password)) << text;
        EXPECT_FALSE(contains(text, basic_authorization(proxy_user, proxy_password).substr(6))) << text;
    }

    static inline rancher_ecr::testing::test_pki* pki_ = nullptr;
    static inline tls_front* ecr_front_ = nullptr;
};

TEST_F(proxy_service_test, a_full_refresh_goes_through_the_proxy) {
    squid_proxy proxy{{proxy_user, proxy_password}};
    auto credential = rancher_->add_credential(rancher_->add_registry(host()), "AWS", "expired-password");
    auto run = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"},
                                                 environment(proxy.url_with(proxy_user, proxy_password)), 60s);
    ASSERT_EQ(run.exit_code, 0) << run.output << "\n" << proxy.log();
    EXPECT_EQ(secret_of(credential), password());

    // Squid logs each request when it ends; the tunnels end with the process.
    ASSERT_TRUE(eventually([&] {
        auto const requests = proxy.requests();
        return count_starting_with(requests, "CONNECT ") >= 1 && count_starting_with(requests, "PUT ") >= 1;
    })) << proxy.log();
    auto const requests = proxy.requests();
    auto const rancher_origin = "http://127.0.0.1:" + std::to_string(parse_url(rancher_->url())->port);
    EXPECT_EQ(count_starting_with(requests, "CONNECT localhost:" + std::to_string(ecr_front_->port()) + " "), 1u)
        << proxy.log();
    EXPECT_GE(count_starting_with(requests, "GET " + rancher_origin + "/v2-beta"), 1u) << proxy.log();
    EXPECT_EQ(count_starting_with(requests, "PUT " + rancher_origin + "/v2-beta/registrycredentials/"), 1u)
        << proxy.log();
    auto const through = "through the proxy 127.0.0.1:" + std::to_string(proxy.port());
    EXPECT_TRUE(contains(run.output, "outbound proxies: ECR " + through + ", STS " + through + ", Rancher " + through))
        << run.output;
    EXPECT_TRUE(contains(run.output, "trace") || contains(run.output, "debug")) << run.output;
    expect_no_proxy_secret(run.output);
}

TEST_F(proxy_service_test, no_proxy_covering_the_targets_sends_everything_direct) {
    squid_proxy proxy{{proxy_user, proxy_password}};
    auto credential = rancher_->add_credential(rancher_->add_registry(host()), "AWS", "expired-password");
    auto env = environment(proxy.url_with(proxy_user, proxy_password));
    env["NO_PROXY"] = "localhost, 127.0.0.1";
    auto run = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"}, env, 60s);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(secret_of(credential), password());
    EXPECT_TRUE(proxy.requests().empty()) << proxy.log();
    EXPECT_TRUE(contains(run.output, "outbound proxies: ECR direct, STS through the proxy 127.0.0.1:" +
                                         std::to_string(proxy.port()) + ", Rancher direct"))
        << run.output;
    expect_no_proxy_secret(run.output);
}

TEST_F(proxy_service_test, a_proxy_that_is_down_fails_visibly_and_the_refresh_recovers_when_it_is_back) {
    auto const proxy_port = rancher_ecr::testing::free_tcp_port();
    auto const proxy_url = "http://" + std::string{proxy_user} + ":" + proxy_password + "@127.0.0.1:" +
                           std::to_string(proxy_port);
    auto credential = rancher_->add_credential(rancher_->add_registry(host()), "AWS", "expired-password");
    service_ = std::make_unique<child_process>(std::vector<std::string>{SERVICE_BINARY}, environment(proxy_url));
    auto const proxy_where = "the proxy 127.0.0.1:" + std::to_string(proxy_port);
    ASSERT_TRUE(eventually([&] {
        auto health = probe("/healthz");
        return health && health->status == 503 && contains(health->body, "cannot connect to " + proxy_where);
    })) << log();
    auto metrics = probe("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_TRUE(contains(metrics->body, "rancher_ecr_credentials_refresh_failures_total{reason=\"ecr\"}"))
        << metrics->body;
    expect_no_proxy_secret(probe("/healthz")->body);
    expect_no_proxy_secret(metrics->body);
    EXPECT_EQ(secret_of(credential), "expired-password");

    squid_proxy proxy{{proxy_user, proxy_password, proxy_port}};
    ASSERT_TRUE(eventually([&] { return secret_of(credential) == password(); }, 40s)) << log() << proxy.log();
    ASSERT_TRUE(eventually([&] {
        auto health = probe("/healthz");
        return health && health->status == 200;
    })) << log();
    ASSERT_TRUE(eventually([&] { return count_starting_with(proxy.requests(), "PUT ") >= 1; })) << proxy.log();
    expect_no_proxy_secret(log());
}

TEST_F(proxy_service_test, wrong_proxy_credentials_fail_the_refresh_with_a_407_that_names_the_proxy) {
    squid_proxy proxy{{proxy_user, proxy_password}};
    auto credential = rancher_->add_credential(rancher_->add_registry(host()), "AWS", "expired-password");
    auto const wrong_password = "Wr0ng.Proxy_pass-11";
    auto run = rancher_ecr::testing::run_command({SERVICE_BINARY, "--once"},
                                                 environment(proxy.url_with(proxy_user, wrong_password)), 60s);
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(secret_of(credential), "expired-password");
    EXPECT_TRUE(contains(run.output, "the proxy 127.0.0.1:" + std::to_string(proxy.port()))) << run.output;
    EXPECT_TRUE(contains(run.output, "407 Proxy Authentication Required")) << run.output;
    EXPECT_FALSE(contains(run.output, wrong_password)) << run.output;
    EXPECT_FALSE(contains(run.output, basic_authorization(proxy_user, wrong_password).substr(6))) << run.output;
}

}  // namespace
}  // namespace rancher_ecr
