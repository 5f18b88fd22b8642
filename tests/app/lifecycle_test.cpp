// The real binary's start, stop and overload behaviour end to end over loopback: signals at any
// moment (while the first credentials hang, idle, in the middle of a refresh, during --once) and
// an accept loop out of file descriptors. moto_server plays ECR, the Rancher stand-in Rancher.
#include <csignal>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "net/https_client.hpp"
#include "support/end_to_end_test.hpp"
#include "support/eventually.hpp"
#include "support/loopback_server.hpp"
#include "support/rancher_stand_in.hpp"
#include "support/run_with_deadline.hpp"
#include "support/temporary_directory.hpp"

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;
using rancher_ecr::testing::contains;
using rancher_ecr::testing::environment_variables;
using rancher_ecr::testing::eventually;
using rancher_ecr::testing::loopback_server;
using rancher_ecr::testing::rancher_stand_in;
using rancher_ecr::testing::scripted_answer;
using tcp = boost::asio::ip::tcp;

std::size_t occurrences(std::string const& text, std::string const& part) {
    std::size_t count = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
    return count;
}

// Whether one line of `text` holds both parts.
bool line_with(std::string const& text, std::string const& first, std::string const& second) {
    std::istringstream lines{text};
    for (std::string line; std::getline(lines, line);)
        if (contains(line, first) && contains(line, second)) return true;
    return false;
}

// User and system CPU time the process has used so far, from /proc/PID/stat (fields 14 and 15).
double cpu_seconds(int pid) {
    std::ifstream file{"/proc/" + std::to_string(pid) + "/stat"};
    std::string stat{std::istreambuf_iterator<char>{file}, {}};
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    std::istringstream fields{stat.substr(stat.rfind(')') + 2)};
    std::string field;
    for (int i = 3; i < 14; ++i) fields >> field;
    unsigned long long user = 0;
    unsigned long long system = 0;
    fields >> user >> system;
    return static_cast<double>(user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// How many descriptors the process has open, from /proc/PID/fd.
std::size_t open_descriptors(int pid) {
    std::error_code ec;
    std::filesystem::directory_iterator entries{"/proc/" + std::to_string(pid) + "/fd", ec};
    if (ec) return 0;
    return static_cast<std::size_t>(std::distance(entries, std::filesystem::directory_iterator{}));
}

class lifecycle_test : public rancher_ecr::testing::end_to_end_test<rancher_stand_in> {
protected:
    lifecycle_test() { probe_timeout_ = 2s; }  // the probes answer within 2 s here

    // No credentials but the IAM user's keys: HOME is an empty directory, instance metadata is off.
    environment_variables environment() const override {
        auto env = end_to_end_test::environment();
        env["HOME"] = home_.path().string();
        return env;
    }
    // Without the keys: the first credentials come from a container endpoint that accepts the request
    // and never answers.
    environment_variables hanging_credentials_environment(loopback_server const& endpoint) const {
        auto env = environment();
        env.erase("AWS_ACCESS_KEY_ID");
        env.erase("AWS_SECRET_ACCESS_KEY");
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:" + std::to_string(endpoint.port()) + "/creds";
        return env;
    }

    bool rancher_saw_a_put() {
        auto requests = rancher_->state().at("requests").as_array();
        return std::ranges::any_of(requests, [](auto const& r) { return r.as_object().at("method") == "PUT"; });
    }

    rancher_ecr::testing::temporary_directory home_;
};

// Fault 5: the signals are handled from the first instant, also while the AWS start waits.
TEST_F(lifecycle_test, sigterm_while_the_first_credentials_hang_exits_0) {
    loopback_server endpoint{[](http_request const&) {
        return scripted_answer{scripted_answer::action::stay_silent, {}, {}};
    }};
    start(hanging_credentials_environment(endpoint));
    ASSERT_TRUE(eventually([&] { return !endpoint.requests().empty(); })) << log();
    service_->signal(SIGTERM);
    auto code = service_->wait(5s);
    ASSERT_TRUE(code.has_value()) << "still running after SIGTERM\n" << log();
    EXPECT_EQ(*code, 0) << log();
    EXPECT_TRUE(contains(log(), "received SIGTERM while starting: stopping")) << log();
    EXPECT_FALSE(contains(log(), " started: ")) << log();
    service_.reset();
}

// An interrupted --once has not written every credential: 1, but never death by the signal.
TEST_F(lifecycle_test, sigterm_while_once_starts_exits_1) {
    loopback_server endpoint{[](http_request const&) {
        return scripted_answer{scripted_answer::action::stay_silent, {}, {}};
    }};
    start(hanging_credentials_environment(endpoint), {SERVICE_BINARY, "--once"});
    ASSERT_TRUE(eventually([&] { return !endpoint.requests().empty(); })) << log();
    service_->signal(SIGTERM);
    auto code = service_->wait(5s);
    ASSERT_TRUE(code.has_value()) << "still running after SIGTERM\n" << log();
    EXPECT_EQ(*code, 1) << log();
    EXPECT_TRUE(contains(log(), "received SIGTERM while starting: stopping")) << log();
    service_.reset();
}

TEST_F(lifecycle_test, sigint_in_the_middle_of_a_once_refresh_exits_1) {
    rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    rancher_->add_fault(
        boost::json::object{{"match", {{"method", "PUT"}}}, {"fault", "delay"}, {"seconds", 30}, {"times", 1}});
    start(environment(), {SERVICE_BINARY, "--once"});
    ASSERT_TRUE(eventually([&] { return rancher_saw_a_put(); })) << log();
    service_->signal(SIGINT);
    auto code = service_->wait(5s);
    ASSERT_TRUE(code.has_value()) << "still running after SIGINT\n" << log();
    EXPECT_EQ(*code, 1) << log();
    EXPECT_TRUE(contains(log(), "received SIGINT: stopping")) << log();
    service_.reset();
}

// Fault 6: with nothing under way the service stops at once; the grace is for a refresh under way.
TEST_F(lifecycle_test, sigterm_when_idle_stops_without_waiting) {
    rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    start();
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();
    ASSERT_TRUE(eventually([&] { return contains(log(), "next refresh in"); })) << log();
    service_->signal(SIGTERM);
    auto code = service_->wait(5s);
    ASSERT_TRUE(code.has_value()) << "still running after SIGTERM\n" << log();
    EXPECT_EQ(*code, 0) << log();
    EXPECT_TRUE(contains(log(), "stopping: nothing under way")) << log();
    EXPECT_FALSE(contains(log(), "waiting up to")) << log();
    service_.reset();
}

TEST_F(lifecycle_test, sigterm_in_the_middle_of_a_refresh_waits_for_it_then_exits_0) {
    rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    rancher_->add_fault(
        boost::json::object{{"match", {{"method", "PUT"}}}, {"fault", "delay"}, {"seconds", 30}, {"times", 1}});
    start();
    ASSERT_TRUE(eventually([&] { return rancher_saw_a_put(); })) << log();
    service_->signal(SIGTERM);
    auto code = service_->wait(5s);
    ASSERT_TRUE(code.has_value()) << "still running after SIGTERM\n" << log();
    EXPECT_EQ(*code, 0) << log();
    EXPECT_TRUE(contains(log(), "waiting up to 0.7 s for the refresh under way")) << log();
    EXPECT_FALSE(contains(log(), "nothing under way")) << log();
    service_.reset();
}

// Fault 1: out of descriptors, the accept loop backs off instead of spinning, says so once with the
// limit, and serves again once descriptors free up; a refresh that cannot open a socket meanwhile
// fails cleanly and is retried.
TEST_F(lifecycle_test, out_of_descriptors_the_accept_loop_backs_off_logs_once_and_recovers) {
    rancher_->add_credential(rancher_->add_registry(host()), "AWS", "old");
    auto env = environment();
    env["REFRESH_INTERVAL"] = "500ms";  // refreshes keep coming while descriptors are short
    start(env, {"/usr/bin/prlimit", "--nofile=40:40", SERVICE_BINARY});
    ASSERT_TRUE(eventually([&] { return health_status() == 200; })) << log();

    // 80 idle connections: the service accepts them until it has no descriptor left.
    boost::asio::io_context context;
    tcp::endpoint const service_endpoint{boost::asio::ip::make_address("127.0.0.1"), port_};
    std::vector<tcp::socket> held;
    for (int i = 0; i < 80; ++i) {
        held.emplace_back(context);
        held.back().connect(service_endpoint);
    }
    ASSERT_TRUE(eventually([&] { return open_descriptors(service_->pid()) >= 40; })) << log();

    // The window measures a spin, not speed: a busy loop would use about a core.
    auto const cpu_before = cpu_seconds(service_->pid());
    EXPECT_FALSE(service_->wait(2s).has_value()) << log();
    auto const cpu_used = cpu_seconds(service_->pid()) - cpu_before;
    EXPECT_LT(cpu_used, 0.5) << "CPU seconds used in 2 s while out of descriptors\n" << log();
    ASSERT_TRUE(eventually([&] { return contains(log(), "accepting a connection failed"); })) << log();
    EXPECT_EQ(occurrences(log(), "accepting a connection failed"), 1u) << log();
    EXPECT_TRUE(line_with(log(), "accepting a connection failed", "Too many open files")) << log();
    EXPECT_TRUE(line_with(log(), "accepting a connection failed", "RLIMIT_NOFILE 40")) << log();
    // Asio reports a socket it could not open for a connect as "Operation canceled".
    auto const warning_at = log().find("accepting a connection failed");
    ASSERT_TRUE(eventually([&] {
        return line_with(log().substr(warning_at), "fetching the ECR token failed", "(will retry)");
    })) << log();

    for (auto& socket : held) socket.close();
    ASSERT_TRUE(eventually([&] { return contains(log(), "accepting connections again"); })) << log();
    EXPECT_EQ(occurrences(log(), "accepting connections again"), 1u) << log();
    // The refresh that failed is retried and succeeds: healthy again.
    ASSERT_TRUE(eventually([&] { return health_status() == 200; }, 60s)) << log();
}

}  // namespace
}  // namespace rancher_ecr
