// Replicas of the real binary racing over one Rancher (issue 10, fault 3): three `--once` runs with
// AUTO_CREATE=true started together must leave exactly one live credential per registry, holding the
// ECR password, and never remove a credential they did not create. A "hold" fault of the Rancher
// stand-in keeps the answers to their credential lists (and registry lists) until all three have been
// computed, so every trial races: all three see "no credential" and all three create one.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "support/end_to_end_test.hpp"
#include "support/eventually.hpp"
#include "support/rancher_stand_in.hpp"

namespace rancher_ecr {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using rancher_ecr::testing::child_process;
using rancher_ecr::testing::environment_variables;
using rancher_ecr::testing::eventually;
using rancher_ecr::testing::rancher_stand_in;

constexpr int replicas = 3;
constexpr int trials = 8;

std::string text(json::object const& object, std::string_view name) {
    auto const* value = object.if_contains(name);
    return value != nullptr && value->is_string() ? std::string{value->get_string()} : std::string{};
}

bool is_live(json::object const& row) {
    auto const state = text(row, "state");
    return row.at("removed").is_null() && state != "removing" && state != "removed" && state != "purging" &&
           state != "purged";
}

// What the replicas of one trial did.
struct trial {
    std::vector<int> exit_codes;  // -1: still running at the deadline
    std::string logs;             // every replica's output, one after the other
};

class replicas_test : public rancher_ecr::testing::end_to_end_test<rancher_stand_in> {
protected:
    // `--once` runs (they serve no probes) that create what is missing.
    environment_variables environment() const override {
        auto env = end_to_end_test::environment();
        env.erase("LISTEN_PORT");
        env["AUTO_CREATE"] = "true";
        return env;
    }

    // Keeps the answers to the next `replicas` requests matching `path` until all are computed.
    static void hold_lists(std::string const& path, bool until_released = false) {
        json::object fault{{"match", {{"method", "GET"}, {"path_contains", path}}}, {"fault", "hold"}, {"seconds", 30}};
        if (until_released)
            fault["times"] = replicas;
        else
            fault["parties"] = replicas;
        rancher_->add_fault(std::move(fault));
    }

    // Starts `replicas` replicas with --once together; `meanwhile` runs while they do.
    template <class Meanwhile>
    trial run_replicas(Meanwhile meanwhile) {
        std::vector<std::unique_ptr<child_process>> running;
        for (int i = 0; i < replicas; ++i)
            running.push_back(std::make_unique<child_process>(std::vector<std::string>{SERVICE_BINARY, "--once"},
                                                              environment()));
        meanwhile();
        trial out;
        auto const deadline = std::chrono::steady_clock::now() + 90s;
        for (std::size_t i = 0; i < running.size(); ++i) {
            auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                    std::chrono::steady_clock::now());
            auto code = running[i]->wait(std::max(left, std::chrono::milliseconds{0}));
            out.exit_codes.push_back(code ? *code : -1);
            out.logs += "--- replica " + std::to_string(i) + ":\n" + running[i]->output();
        }
        return out;
    }
    trial run_replicas() {
        return run_replicas([] {});
    }

    // How many API requests of `method` went to a path containing `path`.
    static long requests(std::string const& method, std::string const& path) {
        auto const log = rancher_->state().at("requests").as_array();
        return std::ranges::count_if(log, [&](json::value const& entry) {
            auto const& request = entry.as_object();
            return text(request, "method") == method && text(request, "path").find(path) != std::string::npos;
        });
    }
    // How many creates (POST <collection>, not an action) went to the collection `plural`.
    static long creates(std::string const& plural) {
        auto const log = rancher_->state().at("requests").as_array();
        return std::ranges::count_if(log, [&](json::value const& entry) {
            auto const& request = entry.as_object();
            return text(request, "method") == "POST" && text(request, "path").ends_with("/" + plural);
        });
    }

    // One registry for the host, created at most once, with exactly one live credential holding the
    // ECR password; returns that credential's id ("" after a failed expectation).
    std::string expect_converged(trial const& outcome) {
        EXPECT_EQ(outcome.exit_codes, std::vector<int>(replicas, 0)) << outcome.logs;
        auto const registries = rancher_->registries();
        EXPECT_EQ(registries.size(), 1u) << outcome.logs;
        if (registries.size() != 1) return {};
        EXPECT_EQ(text(registries[0], "serverAddress"), host());
        EXPECT_TRUE(is_live(registries[0]));
        std::vector<json::object> live;
        for (auto const& credential : rancher_->credentials_of(text(registries[0], "id")))
            if (is_live(credential)) live.push_back(credential);
        EXPECT_EQ(live.size(), 1u) << json::serialize(rancher_->state().at("credentials")) << "\n" << outcome.logs;
        if (live.size() != 1) return {};
        EXPECT_EQ(text(live[0], "publicValue"), "AWS");
        EXPECT_EQ(text(live[0], "secretValue"), password());
        return text(live[0], "id");
    }
};

// The failed expectations of the running test so far.
int failures_so_far() {
    auto const* result = ::testing::UnitTest::GetInstance()->current_test_info()->result();
    int failed = 0;
    for (int i = 0; i < result->total_part_count(); ++i) failed += result->GetTestPartResult(i).failed() ? 1 : 0;
    return failed;
}

TEST_F(replicas_test, three_replicas_on_a_registry_without_credential_leave_one) {
    int failed_trials = 0;
    for (int round = 0; round < trials; ++round) {
        SCOPED_TRACE("trial " + std::to_string(round + 1) + " of " + std::to_string(trials));
        auto const failures_before = failures_so_far();
        rancher_->reset();
        auto const registry = rancher_->add_registry(host());
        hold_lists("/registrycredentials");
        auto const outcome = run_replicas();
        EXPECT_EQ(creates("registrycredentials"), replicas) << "the trial did not race\n" << outcome.logs;
        EXPECT_EQ(creates("registries"), 0);
        auto const survivor = expect_converged(outcome);
        EXPECT_EQ(survivor, "1c1");  // the oldest: the one Rancher uses meanwhile (lowest id)
        EXPECT_EQ(rancher_->registry(registry).at("state"), "active");
        if (failures_so_far() != failures_before) ++failed_trials;
    }
    EXPECT_EQ(failed_trials, 0) << failed_trials << " of " << trials << " trials did not converge";
}

TEST_F(replicas_test, three_replicas_without_a_registry_create_one_registry_and_leave_one_credential) {
    int failed_trials = 0;
    for (int round = 0; round < trials; ++round) {
        SCOPED_TRACE("trial " + std::to_string(round + 1) + " of " + std::to_string(trials));
        auto const failures_before = failures_so_far();
        rancher_->reset();
        hold_lists("/registries");  // all three see no registry: all three create one
        hold_lists("/registrycredentials");
        auto const outcome = run_replicas();
        EXPECT_EQ(creates("registries"), replicas) << "the trial did not race\n" << outcome.logs;
        EXPECT_EQ(creates("registrycredentials"), replicas) << "the trial did not race\n" << outcome.logs;
        expect_converged(outcome);
        if (failures_so_far() != failures_before) ++failed_trials;
    }
    EXPECT_EQ(failed_trials, 0) << failed_trials << " of " << trials << " trials did not converge";
}

TEST_F(replicas_test, a_credential_that_existed_before_is_updated_never_removed) {
    auto const registry = rancher_->add_registry(host());
    auto const existing = rancher_->add_credential(registry, "AWS", "expired-password");
    hold_lists("/registrycredentials");
    auto const outcome = run_replicas();
    EXPECT_EQ(expect_converged(outcome), existing);
    EXPECT_EQ(creates("registrycredentials"), 0) << outcome.logs;
    EXPECT_EQ(requests("DELETE", "/registrycredentials"), 0) << outcome.logs;
    EXPECT_EQ(requests("PUT", "/registrycredentials/" + existing), replicas) << outcome.logs;
}

TEST_F(replicas_test, a_credential_made_by_someone_else_during_the_race_is_kept_and_written) {
    // The three list "no credential"; before they create theirs, an operator adds one. It is older
    // than theirs: each replica removes its own and writes the ECR password into the operator's.
    auto const registry = rancher_->add_registry(host());
    hold_lists("/registrycredentials", true);
    std::string operators;
    auto const outcome = run_replicas([&] {
        ASSERT_TRUE(eventually([] { return rancher_->held() == replicas; }, 60s));
        operators = rancher_->add_credential(registry, "AWS", "operator-password");
        EXPECT_EQ(rancher_->release(), replicas);
    });
    EXPECT_EQ(creates("registrycredentials"), replicas) << "the trial did not race\n" << outcome.logs;
    EXPECT_EQ(expect_converged(outcome), operators);
    EXPECT_TRUE(is_live(rancher_->credential(operators)));
}

}  // namespace
}  // namespace rancher_ecr
