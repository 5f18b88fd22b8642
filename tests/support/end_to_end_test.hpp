#pragma once

#include <csignal>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/http_message.hpp"
#include "support/aws_stand_in.hpp"
#include "support/child_process.hpp"
#include "support/http_get.hpp"

namespace rancher_ecr::testing {

inline bool contains(std::string const& text, std::string const& part) { return text.find(part) != std::string::npos; }

// The fixture of the tests that run the real binary against moto (aws_) and a Rancher stand-in
// (rancher_: a rancher_stand_in or a rancher2_stand_in). Both are started once for the suite and the
// stand-in is reset before every test. start() runs the binary as the long-running service
// (service_), with its probes on a free port (port_); a service still running when the test ends
// gets SIGTERM.
template <class Rancher>
class end_to_end_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        aws_ = new aws_stand_in;
        rancher_ = new Rancher;
    }
    static void TearDownTestSuite() {
        delete rancher_;
        delete aws_;
    }
    void SetUp() override { rancher_->reset(); }
    void TearDown() override {
        if (service_) {
            service_->signal(SIGTERM);
            service_->wait(std::chrono::seconds{10});
        }
    }

    // The registry host of moto's account, and the password ECR hands out for it.
    std::string host() const { return aws_->account_id() + ".dkr.ecr." + aws_->region() + ".amazonaws.com"; }
    std::string password() const { return aws_->account_id() + "-auth-token"; }

    // moto as ECR with its IAM user's keys, instance metadata off (the machine's own credentials never
    // leak in), the stand-in as Rancher with its API key, the probes on 127.0.0.1:port_, debug logs.
    virtual environment_variables environment() const {
        return {{"AWS_REGION", aws_->region()},
                {"AWS_ENDPOINT_URL_ECR", aws_->endpoint()},
                {"AWS_ACCESS_KEY_ID", aws_->user().access_key_id},
                {"AWS_SECRET_ACCESS_KEY", aws_->user().secret_access_key},
                {"AWS_EC2_METADATA_DISABLED", "true"},
                {"CATTLE_URL", rancher_->url()},
                {"CATTLE_ACCESS_KEY", rancher_->access_key()},
                {"CATTLE_SECRET_KEY", rancher_->secret_key()},
                {"LISTEN_ADDRESS", "127.0.0.1"},
                {"LISTEN_PORT", std::to_string(port_)},
                {"LOG_LEVEL", "debug"}};
    }

    // `command`: what runs the binary (e.g. prlimit ... SERVICE_BINARY), then its arguments.
    void start(environment_variables const& env, std::vector<std::string> const& command = {SERVICE_BINARY}) {
        service_ = std::make_unique<child_process>(command, env);
    }
    void start() { start(environment()); }

    // GET of `path` from the service's probes (an answer within probe_timeout_), or nullopt.
    std::optional<http_response> probe(std::string const& path, std::vector<http_header> headers = {}) const {
        return http_get("http://127.0.0.1:" + std::to_string(port_) + path, probe_timeout_, std::move(headers));
    }
    int health_status() const {
        auto answer = probe("/healthz");
        return answer ? answer->status : 0;
    }
    // The service's log so far; once it has exited, all of it (what was left in the pipe included).
    std::string log() {
        service_->wait_for_output("\x01", std::chrono::milliseconds{50});  // drain what is there
        return service_->output();
    }

    static inline aws_stand_in* aws_ = nullptr;
    static inline Rancher* rancher_ = nullptr;
    unsigned short port_ = free_tcp_port();
    std::chrono::seconds probe_timeout_{5};
    std::unique_ptr<child_process> service_;
};

}  // namespace rancher_ecr::testing
