#include "rancher/rancher_client.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "net/https_client.hpp"
#include "rancher/rancher_resources.hpp"
#include "support/eventually.hpp"
#include "support/loopback_server.hpp"
#include "support/rancher_stand_in.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr {
namespace {

namespace json = boost::json;
using rancher_ecr::testing::loopback_server;
using rancher_ecr::testing::rancher_stand_in;
using rancher_ecr::testing::run_with_deadline;
using rancher_ecr::testing::scripted_answer;

std::string const ecr_host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
std::string const other_host = "999999999999.dkr.ecr.eu-west-1.amazonaws.com";
// Long enough to be redacted, distinctive enough to search for.
std::string const new_password = "eyJwYXlsb2FkIjoiTkVXLVRPS0VOLTEyMzQ1Njc4OTAifQ==";
std::string const old_password = "old-token-0000000000";

std::string text(json::object const& object, std::string_view name) {
    auto const* value = object.if_contains(name);
    return value != nullptr && value->is_string() ? std::string{value->get_string()} : std::string{};
}

// Everything logged while it lives, at trace level.
class captured_log {
public:
    captured_log() {
        previous_ = spdlog::default_logger();
        auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_));
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
    }
    ~captured_log() { spdlog::set_default_logger(previous_); }
    captured_log(captured_log const&) = delete;
    captured_log& operator=(captured_log const&) = delete;
    std::string text() const { return stream_.str(); }

private:
    std::shared_ptr<spdlog::logger> previous_;
    std::ostringstream stream_;
};

// One stand-in for the suite; every test starts from an empty environment.
class rancher_client_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { rancher_ = new rancher_stand_in; }
    static void TearDownTestSuite() {
        delete rancher_;
        rancher_ = nullptr;
    }
    void SetUp() override { rancher_->reset(); }

    rancher_client client(std::string const& path = "/v2-beta/projects/1a5", std::string secret = {}) {
        auto base = parse_url(rancher_->url() + path);
        EXPECT_TRUE(base) << base.error().message;
        return rancher_client{transport_, *base, rancher_->access_key(),
                              secret.empty() ? rancher_->secret_key() : std::move(secret)};
    }

    result<rancher_write_report> write(rancher_client& rancher, std::string const& host = ecr_host,
                                       bool auto_create = false, std::string const& password = new_password) {
        return run_with_deadline(context_, rancher.write_registry_credential(host, "AWS", password, auto_create));
    }

    result<rancher_write_report> write(std::string const& host = ecr_host, bool auto_create = false) {
        auto rancher = client();
        return write(rancher, host, auto_create);
    }

    // The API requests the stand-in saw, as "METHOD path[?query]".
    std::vector<std::string> requests_seen() {
        std::vector<std::string> out;
        auto const state = rancher_->state();
        for (auto const& entry : state.at("requests").as_array()) {
            auto const& request = entry.as_object();
            auto const query = text(request, "query");
            out.push_back(text(request, "method") + " " + text(request, "path") + (query.empty() ? "" : "?" + query));
        }
        return out;
    }

    // Two writes at once on one io_context, as two replicas would write.
    std::pair<result<rancher_write_report>, result<rancher_write_report>> write_both(rancher_client& first,
                                                                                     rancher_client& second) {
        auto both = [&]() -> boost::asio::awaitable<std::pair<result<rancher_write_report>, result<rancher_write_report>>> {
            auto executor = co_await boost::asio::this_coro::executor;
            auto a = boost::asio::co_spawn(executor, first.write_registry_credential(ecr_host, "AWS", new_password, true),
                                           boost::asio::deferred);
            auto b = boost::asio::co_spawn(executor, second.write_registry_credential(ecr_host, "AWS", new_password, true),
                                           boost::asio::deferred);
            auto [order, error_a, report_a, error_b, report_b] =
                co_await boost::asio::experimental::make_parallel_group(std::move(a), std::move(b))
                    .async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
            (void)order;
            if (error_a) std::rethrow_exception(error_a);
            if (error_b) std::rethrow_exception(error_b);
            co_return std::pair{std::move(report_a), std::move(report_b)};
        };
        return run_with_deadline(context_, both());
    }

    // The ids of the registry's live credentials, lowest first.
    static std::vector<std::string> live_credentials(std::string const& registry) {
        std::vector<std::string> out;
        for (auto const& credential : rancher_->credentials_of(registry)) {
            auto const state = text(credential, "state");
            if (credential.at("removed").is_null() && !is_removed_row(state, false)) out.push_back(text(credential, "id"));
        }
        std::ranges::sort(out, [](auto const& a, auto const& b) { return older_credential(a, b); });
        return out;
    }

    // "METHOD path[?query]" of every request the stand-in saw that matches `part`.
    std::vector<std::string> requests_with(std::string const& part) {
        std::vector<std::string> out;
        for (auto const& request : requests_seen())
            if (request.find(part) != std::string::npos) out.push_back(request);
        return out;
    }

    static rancher_stand_in* rancher_;
    boost::asio::io_context context_;
    https_client transport_{context_.get_executor(), {}};
};

// Runs `work` on a thread of its own (the test's thread runs the client meanwhile); joins it when it goes.
class helper_thread {
public:
    template <class Work>
    explicit helper_thread(Work work) : thread_{std::move(work)} {}
    ~helper_thread() { thread_.join(); }
    helper_thread(helper_thread const&) = delete;
    helper_thread& operator=(helper_thread const&) = delete;

private:
    std::thread thread_;
};

rancher_stand_in* rancher_client_test::rancher_ = nullptr;

TEST_F(rancher_client_test, updates_the_existing_credential) {
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);

    auto report = write();
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->registry_id, registry);
    EXPECT_EQ(report->credentials_updated, 1);
    EXPECT_EQ(report->credentials_created, 0);
    EXPECT_FALSE(report->registry_created);

    auto stored = rancher_->credential(credential);
    EXPECT_EQ(text(stored, "secretValue"), new_password);
    EXPECT_EQ(text(stored, "publicValue"), "AWS");
    EXPECT_EQ(rancher_->registries().size(), 1u);
}

TEST_F(rancher_client_test, updates_every_live_credential_and_leaves_removed_ones) {
    auto registry = rancher_->add_registry(ecr_host);
    auto first = rancher_->add_credential(registry, "AWS", old_password);
    auto inactive = rancher_->add_credential(registry, "AWS", old_password, "inactive");
    auto removed = rancher_->add_credential(registry, "AWS", old_password, "removed", true);
    auto third = rancher_->add_credential(registry, "AWS", old_password);

    auto report = write();
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->credentials_updated, 3);
    for (auto const& id : {first, inactive, third}) EXPECT_EQ(text(rancher_->credential(id), "secretValue"), new_password) << id;
    EXPECT_EQ(text(rancher_->credential(removed), "secretValue"), old_password);
}

TEST_F(rancher_client_test, finds_the_registry_on_a_later_page) {
    for (int i = 0; i < 150; ++i) rancher_->add_registry("registry-" + std::to_string(i) + ".example.com");
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);

    auto report = write();
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->registry_id, registry);
    EXPECT_EQ(text(rancher_->credential(credential), "secretValue"), new_password);
    EXPECT_EQ(rancher_->registries().size(), 151u);
    std::vector<std::string> registry_pages;
    for (auto const& request : requests_seen())
        if (request.starts_with("GET /v2-beta/projects/1a5/registries")) registry_pages.push_back(request);
    EXPECT_EQ(registry_pages, (std::vector<std::string>{"GET /v2-beta/projects/1a5/registries",
                                                        "GET /v2-beta/projects/1a5/registries?marker=m100"}));
}

TEST_F(rancher_client_test, ignores_removed_twins_of_the_registry) {
    // One removed (the server leaves it out of lists), one being removed (listed, as older servers
    // also list removed rows for a while): both have lower ids than the live registry.
    auto removed = rancher_->add_registry(ecr_host, "removed", true);
    auto removed_credential = rancher_->add_credential(removed, "AWS", old_password, "removed", true);
    auto removing = rancher_->add_registry(ecr_host, "removing");
    auto removing_credential = rancher_->add_credential(removing, "AWS", old_password, "removing");
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);

    auto report = write();
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->registry_id, registry);
    EXPECT_EQ(report->credentials_updated, 1);
    EXPECT_EQ(text(rancher_->credential(credential), "secretValue"), new_password);
    EXPECT_EQ(text(rancher_->credential(removed_credential), "secretValue"), old_password);
    EXPECT_EQ(text(rancher_->credential(removing_credential), "secretValue"), old_password);
}

TEST_F(rancher_client_test, a_registry_being_removed_blocks_creation_for_now) {
    rancher_->add_registry(ecr_host, "removing");
    auto report = write(ecr_host, true);
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().code, "ServerAddressUsed");
    EXPECT_TRUE(report.error().retryable);
    EXPECT_NE(report.error().message.find("being removed"), std::string::npos) << report.error().message;
    EXPECT_EQ(rancher_->registries().size(), 1u);
}

TEST_F(rancher_client_test, two_writers_racing_to_create_make_one_registry) {
    // Both list while the other lists (the delay holds both lists open), so both POST; the loser
    // gets 400 ServerAddressUsed and must use the winner's registry.
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registries"}}},
                         {"fault", "delay"},
                         {"seconds", 0.5},
                         {"times", 2}});
    auto first = client();
    auto second = client();
    auto [a, b] = write_both(first, second);
    ASSERT_TRUE(a) << describe(a.error());
    ASSERT_TRUE(b) << describe(b.error());
    EXPECT_NE(a->registry_created, b->registry_created);
    EXPECT_EQ(a->registry_id, b->registry_id);
    auto registries = rancher_->registries();
    ASSERT_EQ(registries.size(), 1u);
    EXPECT_EQ(text(registries[0], "serverAddress"), ecr_host);
    auto credentials = rancher_->credentials_of(a->registry_id);
    ASSERT_FALSE(credentials.empty());
    for (auto const& credential : credentials) EXPECT_EQ(text(credential, "secretValue"), new_password);
    EXPECT_EQ(live_credentials(a->registry_id).size(), 1u);
}

// --- Replicas converging on one credential (issue 10, fault 3) ---

TEST_F(rancher_client_test, two_writers_creating_credentials_at_once_keep_the_oldest) {
    auto registry = rancher_->add_registry(ecr_host);
    // Both lists are answered only once both are computed: both see no credential, both create one.
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "hold"},
                         {"parties", 2}});
    auto first = client();
    auto second = client();
    auto [a, b] = write_both(first, second);
    ASSERT_TRUE(a) << describe(a.error());
    ASSERT_TRUE(b) << describe(b.error());
    EXPECT_EQ(a->credentials_created + b->credentials_created, 2);
    EXPECT_EQ(a->credentials_removed + b->credentials_removed, 1);  // the newer one, by its creator
    auto const& loser = a->credentials_removed == 1 ? *a : *b;
    EXPECT_EQ(loser.credentials_updated, 1);  // the password went into the survivor too
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{"1c1"}));
    EXPECT_EQ(text(rancher_->credential("1c1"), "secretValue"), new_password);
    EXPECT_EQ(text(rancher_->credential("1c2"), "state"), "removed");
    // Cattle's way out (§1.5): deactivate, wait for inactive, then DELETE.
    auto const removal = requests_with("/registrycredentials/1c2");
    ASSERT_FALSE(removal.empty());
    EXPECT_EQ(removal.front(), "POST /v2-beta/projects/1a5/registrycredentials/1c2?action=deactivate");
    EXPECT_EQ(removal.back(), "DELETE /v2-beta/projects/1a5/registrycredentials/1c2");
    EXPECT_TRUE(requests_with("registrycredentials/1c1?action").empty());
    EXPECT_TRUE(requests_with("DELETE /v2-beta/projects/1a5/registrycredentials/1c1").empty());
}

TEST_F(rancher_client_test, a_credential_someone_else_made_is_never_removed) {
    auto registry = rancher_->add_registry(ecr_host);
    auto theirs = rancher_->add_credential(registry, "AWS", old_password);
    auto newer = rancher_->add_credential(registry, "AWS", old_password);
    auto report = write();
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->credentials_updated, 2);
    EXPECT_EQ(report->credentials_removed, 0);
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{theirs, newer}));
    EXPECT_TRUE(requests_with("DELETE").empty());
    EXPECT_TRUE(requests_with("action=").empty());
}

TEST_F(rancher_client_test, a_duplicate_left_by_a_failed_check_is_removed_at_the_next_write) {
    auto registry = rancher_->add_registry(ecr_host);
    // Someone else's credential that the first list does not show (it stands for one a list missed).
    auto theirs = rancher_->add_credential(registry, "AWS", old_password, "removing");
    // The first list passes, the one after the create fails.
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "delay"},
                         {"seconds", 0}});
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "status"},
                         {"status", 503}});
    auto rancher = client();
    auto failed = write(rancher);
    ASSERT_FALSE(failed);
    EXPECT_TRUE(failed.error().retryable);
    EXPECT_NE(failed.error().message.find("listing again after creating credential 1c2"), std::string::npos)
        << failed.error().message;
    rancher_->control("PATCH", "/_control/credentials/" + theirs, R"({"state":"active"})");
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{theirs, "1c2"}));

    // Another writer (no memory of 1c2) writes both and removes nothing.
    auto other = client();
    auto report = write(other);
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->credentials_updated, 2);
    EXPECT_EQ(report->credentials_removed, 0);

    // The writer that made 1c2 removes it now, and writes the older one.
    auto again = write(rancher);
    ASSERT_TRUE(again) << describe(again.error());
    EXPECT_EQ(again->credentials_created, 0);
    EXPECT_EQ(again->credentials_updated, 1);
    EXPECT_EQ(again->credentials_removed, 1);
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{theirs}));
    EXPECT_EQ(text(rancher_->credential(theirs), "secretValue"), new_password);
    // And forgets it: nothing more to remove.
    auto third = write(rancher);
    ASSERT_TRUE(third) << describe(third.error());
    EXPECT_EQ(third->credentials_removed, 0);
    EXPECT_EQ(third->credentials_updated, 1);
}

TEST_F(rancher_client_test, an_update_racing_the_removal_of_a_credential_skips_it) {
    auto registry = rancher_->add_registry(ecr_host);
    auto kept = rancher_->add_credential(registry, "AWS", old_password);
    auto going = rancher_->add_credential(registry, "AWS", old_password);
    // The list shows both; before its answer arrives, `going` is removed (by the replica that made
    // it), and the PUT on it is refused as Cattle may refuse it.
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "hold"},
                         {"seconds", 30}});
    rancher_->add_fault({{"match", {{"method", "PUT"}, {"path_contains", "/registrycredentials/" + going}}},
                         {"fault", "status"},
                         {"status", 404}});
    result<rancher_write_report> report = make_failure(failure_kind::transport, "not run");
    {
        helper_thread remover{[&] {
            if (!rancher_ecr::testing::eventually([] { return rancher_->held() == 1; })) return;
            rancher_->control("PATCH", "/_control/credentials/" + going, R"({"state":"removed","removed":true})");
            rancher_->release();
        }};
        report = write();
    }
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->credentials_updated, 1);
    EXPECT_EQ(text(rancher_->credential(kept), "secretValue"), new_password);
    EXPECT_EQ(requests_with("GET /v2-beta/projects/1a5/registrycredentials/" + going).size(), 1u);  // checked
}

TEST_F(rancher_client_test, when_every_credential_is_removed_while_being_written_it_is_tried_again) {
    auto registry = rancher_->add_registry(ecr_host);
    auto only = rancher_->add_credential(registry, "AWS", old_password);
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "hold"},
                         {"seconds", 30}});
    rancher_->add_fault({{"match", {{"method", "PUT"}}}, {"fault", "status"}, {"status", 404}});
    result<rancher_write_report> report = make_failure(failure_kind::transport, "not run");
    {
        helper_thread remover{[&] {
            if (!rancher_ecr::testing::eventually([] { return rancher_->held() == 1; })) return;
            rancher_->control("PATCH", "/_control/credentials/" + only, R"({"state":"removed","removed":true})");
            rancher_->release();
        }};
        report = write();
    }
    ASSERT_FALSE(report);
    EXPECT_TRUE(report.error().retryable);
    EXPECT_NE(report.error().message.find("was removed while being written"), std::string::npos)
        << report.error().message;
    // The next try finds none and creates one.
    auto again = write();
    ASSERT_TRUE(again) << describe(again.error());
    EXPECT_EQ(again->credentials_created, 1);
    EXPECT_EQ(live_credentials(registry).size(), 1u);
}

TEST_F(rancher_client_test, a_refused_update_of_a_live_credential_is_a_failure) {
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);
    rancher_->add_fault({{"match", {{"method", "PUT"}}}, {"fault", "status"}, {"status", 422}, {"code", "InvalidState"}});
    auto report = write();
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().code, "InvalidState");
    EXPECT_EQ(report.error().http_status, 422);
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{credential}));
}

TEST_F(rancher_client_test, when_the_oldest_vanishes_before_its_write_ours_is_kept) {
    auto registry = rancher_->add_registry(ecr_host);
    // Our list sees none; an operator then adds one (older than ours); our second list sees both;
    // then the operator's is removed before we write into it.
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "hold"},
                         {"times", 2},
                         {"seconds", 30}});
    rancher_->add_fault({{"match", {{"method", "PUT"}}}, {"fault", "status"}, {"status", 404}});
    result<rancher_write_report> report = make_failure(failure_kind::transport, "not run");
    std::string theirs;
    {
        helper_thread operator_{[&] {
            if (!rancher_ecr::testing::eventually([] { return rancher_->held() == 1; })) return;
            theirs = rancher_->add_credential(registry, "AWS", old_password);
            rancher_->release();
            // The second list: computed (both listed), its answer kept.
            if (!rancher_ecr::testing::eventually([] {
                    auto const state = rancher_->state();
                    return state.at("held").to_number<int>() == 1 && state.at("faults").as_array().size() == 1;
                }))
                return;
            rancher_->control("PATCH", "/_control/credentials/" + theirs, R"({"state":"removed","removed":true})");
            rancher_->release();
        }};
        report = write();
    }
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->credentials_created, 1);
    EXPECT_EQ(report->credentials_updated, 0);
    EXPECT_EQ(report->credentials_removed, 0);
    ASSERT_EQ(theirs, "1c1");
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{"1c2"}));
    EXPECT_EQ(text(rancher_->credential("1c2"), "secretValue"), new_password);
}

TEST_F(rancher_client_test, a_refused_deactivate_or_delete_is_tried_again_from_the_state_read_back) {
    auto registry = rancher_->add_registry(ecr_host);
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "hold"},
                         {"parties", 2}});
    // The action is refused once (as while a transition is under way), the DELETE once too.
    rancher_->add_fault({{"match", {{"method", "POST"}, {"path_contains", "/registrycredentials/"}}},
                         {"fault", "status"},
                         {"status", 422},
                         {"code", "ActionNotAvailable"}});
    rancher_->add_fault({{"match", {{"method", "DELETE"}}}, {"fault", "status"}, {"status", 405}});
    auto first = client();
    auto second = client();
    auto [a, b] = write_both(first, second);
    ASSERT_TRUE(a) << describe(a.error());
    ASSERT_TRUE(b) << describe(b.error());
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{"1c1"}));
    EXPECT_EQ(requests_with("1c2?action=deactivate").size(), 2u);
    EXPECT_EQ(requests_with("DELETE").size(), 2u);
}

TEST_F(rancher_client_test, a_removal_that_never_passes_fails_retryably_and_is_tried_at_the_next_write) {
    auto registry = rancher_->add_registry(ecr_host);
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "hold"},
                         {"parties", 2}});
    rancher_->add_fault({{"match", {{"method", "POST"}, {"path_contains", "/registrycredentials/"}}},
                         {"fault", "status"},
                         {"status", 422},
                         {"code", "ActionNotAvailable"},
                         {"times", 100}});
    auto first = client();
    auto second = client();
    auto [a, b] = write_both(first, second);
    auto& failed = a ? b : a;
    ASSERT_FALSE(failed);
    EXPECT_TRUE(failed.error().retryable);
    EXPECT_NE(failed.error().message.find("Rancher credential 1c2 is still active after 20 steps"), std::string::npos)
        << failed.error().message;
    EXPECT_TRUE(a || b);
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{"1c1", "1c2"}));

    rancher_->clear_faults();
    auto& loser = a ? second : first;
    auto again = write(loser);
    ASSERT_TRUE(again) << describe(again.error());
    EXPECT_EQ(again->credentials_removed, 1);
    EXPECT_EQ(live_credentials(registry), (std::vector<std::string>{"1c1"}));
}

TEST_F(rancher_client_test, matches_a_server_address_with_scheme_slash_and_upper_case) {
    auto registry = rancher_->add_registry("https://123456789012.DKR.ECR.us-east-1.amazonaws.com/");
    auto credential = rancher_->add_credential(registry, "AWS", old_password);

    auto report = write(ecr_host, true);
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->registry_id, registry);
    EXPECT_FALSE(report->registry_created);
    EXPECT_EQ(text(rancher_->credential(credential), "secretValue"), new_password);
    EXPECT_EQ(rancher_->registries().size(), 1u);
}

TEST_F(rancher_client_test, a_registry_without_credential_gets_one) {
    auto registry = rancher_->add_registry(ecr_host);

    auto report = write();
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->credentials_created, 1);
    EXPECT_EQ(report->credentials_updated, 0);
    auto credentials = rancher_->credentials_of(registry);
    ASSERT_EQ(credentials.size(), 1u);
    EXPECT_EQ(text(credentials[0], "publicValue"), "AWS");
    EXPECT_EQ(text(credentials[0], "secretValue"), new_password);
}

TEST_F(rancher_client_test, auto_create_makes_the_registry_with_the_bare_host_and_its_credential) {
    auto report = write(ecr_host, true);
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_TRUE(report->registry_created);
    EXPECT_EQ(report->credentials_created, 1);
    auto registries = rancher_->registries();
    ASSERT_EQ(registries.size(), 1u);
    EXPECT_EQ(text(registries[0], "serverAddress"), ecr_host);
    EXPECT_EQ(text(registries[0], "id"), report->registry_id);
    auto credentials = rancher_->credentials_of(report->registry_id);
    ASSERT_EQ(credentials.size(), 1u);
    EXPECT_EQ(text(credentials[0], "secretValue"), new_password);

    // A second run finds what the first made.
    auto again = write(ecr_host, true);
    ASSERT_TRUE(again) << describe(again.error());
    EXPECT_FALSE(again->registry_created);
    EXPECT_EQ(again->credentials_updated, 1);
    EXPECT_EQ(rancher_->registries().size(), 1u);
}

TEST_F(rancher_client_test, without_auto_create_a_missing_registry_is_reported_and_nothing_written) {
    auto other = rancher_->add_registry(other_host);
    auto other_credential = rancher_->add_credential(other, "AWS", old_password);

    auto report = write(ecr_host, false);
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().refused, refusal::registry_not_found);
    EXPECT_FALSE(report.error().retryable);
    EXPECT_NE(report.error().message.find(ecr_host), std::string::npos) << report.error().message;
    EXPECT_EQ(rancher_->registries().size(), 1u);
    EXPECT_EQ(text(rancher_->credential(other_credential), "secretValue"), old_password);
    for (auto const& request : requests_seen())
        EXPECT_TRUE(request.starts_with("GET ")) << request;
}

TEST_F(rancher_client_test, never_touches_another_hosts_registry) {
    auto other = rancher_->add_registry(other_host);
    auto other_credential = rancher_->add_credential(other, "AWS", old_password);
    auto lookalike = rancher_->add_registry(ecr_host + ".evil.example");
    auto lookalike_credential = rancher_->add_credential(lookalike, "AWS", old_password);
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);

    auto report = write();
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->credentials_updated, 1);
    EXPECT_EQ(text(rancher_->credential(credential), "secretValue"), new_password);
    EXPECT_EQ(text(rancher_->credential(other_credential), "secretValue"), old_password);
    EXPECT_EQ(text(rancher_->credential(lookalike_credential), "secretValue"), old_password);
}

class rancher_url_forms : public rancher_client_test, public ::testing::WithParamInterface<std::string> {};

TEST_P(rancher_url_forms, every_form_of_cattle_url_works) {
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);
    auto rancher = client(GetParam());
    auto report = write(rancher);
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->credentials_updated, 1);
    EXPECT_EQ(text(rancher_->credential(credential), "secretValue"), new_password);
}

INSTANTIATE_TEST_SUITE_P(rancher_client, rancher_url_forms,
                         ::testing::Values("", "/", "/v1", "/v1/", "/v2-beta", "/v2-beta/", "/v2-beta/projects/1a5",
                                           "/v1/projects/1a5"));

TEST_F(rancher_client_test, several_registries_are_written_from_one_listing_of_the_registries) {
    auto existing = rancher_->add_registry(other_host);
    rancher_->add_credential(existing, "AWS", old_password);
    std::string const third_host = "111122223333.dkr.ecr.us-east-1.amazonaws.com";
    auto rancher = client();
    std::vector<registry_login> logins{{ecr_host, "AWS", new_password},
                                       {other_host, "AWS", new_password},
                                       {"", "AWS", new_password},
                                       {third_host, "AWS", new_password}};
    auto written = run_with_deadline(context_, rancher.write_registry_credentials(std::move(logins), true));
    ASSERT_EQ(written.size(), 4u);
    ASSERT_TRUE(written[0]) << describe(written[0].error());
    EXPECT_TRUE(written[0]->registry_created);
    ASSERT_TRUE(written[1]) << describe(written[1].error());
    EXPECT_EQ(written[1]->registry_id, existing);
    EXPECT_EQ(written[1]->credentials_updated, 1);
    ASSERT_FALSE(written[2]);  // no host: refused, and the others go on
    EXPECT_EQ(written[2].error().kind, failure_kind::config);
    ASSERT_TRUE(written[3]) << describe(written[3].error());
    EXPECT_TRUE(written[3]->registry_created);
    auto const registries = rancher_->registries();
    EXPECT_EQ(registries.size(), 3u);
    for (auto const& host : {ecr_host, other_host, third_host})
        EXPECT_TRUE(std::ranges::any_of(registries, [&](auto const& r) { return text(r, "serverAddress") == host; }))
            << host;
    EXPECT_EQ(text(rancher_->credential(live_credentials(existing).front()), "secretValue"), new_password);
    EXPECT_EQ(requests_with("GET /v2-beta/projects/1a5/registries").size(), 1u);
}

TEST_F(rancher_client_test, a_listing_that_fails_fails_every_registry_of_the_write) {
    rancher_->add_fault(json::object{{"match", json::object{{"method", "GET"}, {"path_contains", "/registries"}}},
                                     {"fault", "status"},
                                     {"status", 503},
                                     {"times", 1}});
    auto rancher = client();
    std::vector<registry_login> logins{{ecr_host, "AWS", new_password}, {other_host, "AWS", new_password}};
    auto written = run_with_deadline(context_, rancher.write_registry_credentials(std::move(logins), true));
    ASSERT_EQ(written.size(), 2u);
    for (auto const& one : written) {
        ASSERT_FALSE(one);
        EXPECT_EQ(one.error().http_status, 503);
        EXPECT_TRUE(one.error().retryable);
        EXPECT_NE(one.error().message.find("GET /v2-beta/projects/1a5/registries"), std::string::npos)
            << one.error().message;
    }
    EXPECT_TRUE(rancher_->registries().empty());
    EXPECT_EQ(requests_with("/registries").size(), 1u);  // not listed again for the second
}

TEST_F(rancher_client_test, wrong_keys_are_a_clear_error_without_the_secret) {
    auto registry = rancher_->add_registry(ecr_host);
    rancher_->add_credential(registry, "AWS", old_password);
    std::string const wrong_secret = "wrong-" + rancher_->secret_key();
    captured_log log;
    auto rancher = client("/v2-beta", wrong_secret);
    auto report = write(rancher);
    ASSERT_FALSE(report);
    auto const& problem = report.error();
    EXPECT_EQ(problem.kind, failure_kind::service);
    EXPECT_EQ(problem.http_status, 401);
    EXPECT_FALSE(problem.retryable);
    EXPECT_NE(problem.message.find("Rancher GET /v2-beta"), std::string::npos) << problem.message;
    EXPECT_NE(problem.message.find("CATTLE_SECRET_KEY"), std::string::npos) << problem.message;
    for (auto const& secret : {wrong_secret, rancher_->secret_key(), new_password}) {
        EXPECT_EQ(describe(problem).find(secret), std::string::npos);
        EXPECT_EQ(log.text().find(secret), std::string::npos);
    }
}

TEST_F(rancher_client_test, logs_what_it_does_but_no_secret) {
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);
    captured_log log;
    auto report = write();
    ASSERT_TRUE(report) << describe(report.error());
    auto const text = log.text();
    EXPECT_NE(text.find(credential), std::string::npos) << text;
    EXPECT_NE(text.find(ecr_host), std::string::npos) << text;
    EXPECT_EQ(text.find(new_password), std::string::npos) << text;
    EXPECT_EQ(text.find(rancher_->secret_key()), std::string::npos) << text;
    EXPECT_EQ(text.find(basic_authorization(rancher_->access_key(), rancher_->secret_key()).substr(6)), std::string::npos);
}

TEST_F(rancher_client_test, a_503_is_retryable_and_names_the_request) {
    auto registry = rancher_->add_registry(ecr_host);
    rancher_->add_credential(registry, "AWS", old_password);
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registries"}}},
                         {"fault", "status"},
                         {"status", 503},
                         {"times", 1}});
    auto report = write();
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().http_status, 503);
    EXPECT_TRUE(report.error().retryable);
    EXPECT_NE(report.error().message.find("/registries"), std::string::npos) << report.error().message;

    // The fault is spent: the next run passes.
    auto again = write();
    ASSERT_TRUE(again) << describe(again.error());
}

TEST_F(rancher_client_test, a_body_cut_short_is_a_retryable_error_naming_the_request) {
    auto registry = rancher_->add_registry(ecr_host);
    rancher_->add_credential(registry, "AWS", old_password);
    rancher_->add_fault({{"match", {{"method", "GET"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "truncate"},
                         {"times", 2}});  // https_client tries once more when a kept-alive connection breaks
    auto report = write();
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().kind, failure_kind::transport);
    EXPECT_TRUE(report.error().retryable);
    EXPECT_NE(report.error().message.find("Rancher GET /v2-beta/projects/1a5/registrycredentials?registryId=" + registry),
              std::string::npos)
        << report.error().message;
}

TEST_F(rancher_client_test, a_dropped_connection_is_retryable) {
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);
    // Twice: https_client tries once more when a kept-alive connection breaks.
    rancher_->add_fault({{"match", {{"method", "PUT"}}}, {"fault", "drop"}, {"times", 2}});
    auto report = write();
    ASSERT_FALSE(report);
    EXPECT_TRUE(report.error().retryable);
    EXPECT_NE(report.error().message.find("Rancher PUT /v2-beta/projects/1a5/registrycredentials/" + credential),
              std::string::npos)
        << report.error().message;
    EXPECT_EQ(report.error().message.find(new_password), std::string::npos);
}

TEST_F(rancher_client_test, a_slow_answer_times_out_and_is_retryable) {
    auto registry = rancher_->add_registry(ecr_host);
    rancher_->add_credential(registry, "AWS", old_password);
    rancher_->add_fault({{"match", {{"method", "PUT"}}}, {"fault", "delay"}, {"seconds", 2}, {"times", 1}});
    https_client_options options;
    options.request_timeout = std::chrono::milliseconds{300};
    https_client impatient{context_.get_executor(), options};
    rancher_client rancher{impatient, *parse_url(rancher_->url()), rancher_->access_key(), rancher_->secret_key()};
    auto report = write(rancher);
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().kind, failure_kind::timeout);
    EXPECT_TRUE(report.error().retryable);
    EXPECT_NE(report.error().message.find("Rancher PUT"), std::string::npos) << report.error().message;
}

TEST_F(rancher_client_test, a_422_surfaces_code_and_field) {
    rancher_->add_registry(ecr_host);
    rancher_->add_fault({{"match", {{"method", "POST"}, {"path_contains", "/registrycredentials"}}},
                         {"fault", "status"},
                         {"status", 422},
                         {"code", "InvalidReference"},
                         {"fieldName", "registryId"}});
    auto report = write();
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().kind, failure_kind::service);
    EXPECT_EQ(report.error().http_status, 422);
    EXPECT_EQ(report.error().code, "InvalidReference");
    EXPECT_FALSE(report.error().retryable);
    EXPECT_NE(report.error().message.find("Rancher POST /v2-beta/projects/1a5/registrycredentials failed: HTTP 422 "
                                          "InvalidReference, field registryId"),
              std::string::npos)
        << report.error().message;
}

TEST_F(rancher_client_test, an_empty_password_is_refused_before_any_request) {
    auto registry = rancher_->add_registry(ecr_host);
    auto credential = rancher_->add_credential(registry, "AWS", old_password);
    auto rancher = client();
    auto report = write(rancher, ecr_host, true, "");
    ASSERT_FALSE(report);
    EXPECT_NE(report.error().message.find("empty"), std::string::npos) << report.error().message;
    EXPECT_TRUE(requests_seen().empty());
    EXPECT_EQ(text(rancher_->credential(credential), "secretValue"), old_password);
}

// --- Several environments through one account key, sharing a discovery. ---

class shared_discovery_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        rancher_ = new rancher_stand_in{{"--environments", "env-a,env-b,env-c", "--account-key", "account:account-secret"}};
    }
    static void TearDownTestSuite() {
        delete rancher_;
        rancher_ = nullptr;
    }
    void SetUp() override { rancher_->reset(); }

    rancher_client client(std::string const& environment, std::string const& secret = "account-secret") {
        return rancher_client{transport_, *parse_url(rancher_->url() + "/v2-beta/projects/" + environment), "account",
                              secret, discovery_};
    }

    result<rancher_write_report> write(rancher_client& rancher) {
        return run_with_deadline(context_, rancher.write_registry_credential(ecr_host, "AWS", new_password, true));
    }

    // Every client's write at once, on one io_context, as refreshes of several environments run.
    std::vector<result<rancher_write_report>> write_all(std::vector<rancher_client>& clients) {
        auto all = [&]() -> boost::asio::awaitable<std::vector<result<rancher_write_report>>> {
            auto executor = co_await boost::asio::this_coro::executor;
            std::vector<decltype(boost::asio::co_spawn(
                executor, clients[0].write_registry_credential(ecr_host, "AWS", new_password, true),
                boost::asio::deferred))>
                writes;
            for (auto& rancher : clients)
                writes.push_back(boost::asio::co_spawn(
                    executor, rancher.write_registry_credential(ecr_host, "AWS", new_password, true),
                    boost::asio::deferred));
            auto [order, errors, reports] = co_await boost::asio::experimental::make_parallel_group(std::move(writes))
                                                .async_wait(boost::asio::experimental::wait_for_all(),
                                                            boost::asio::use_awaitable);
            (void)order;
            for (auto const& error : errors)
                if (error) std::rethrow_exception(error);
            co_return std::move(reports);
        };
        return run_with_deadline(context_, all());
    }

    // How many requests went to the API roots of the three environments.
    static int requests_to_roots() {
        return requests_to("/v2-beta/projects/1a5") + requests_to("/v2-beta/projects/1a6") +
               requests_to("/v2-beta/projects/1a7");
    }

    // How many requests went to `path` exactly.
    static int requests_to(std::string const& path) {
        int count = 0;
        auto const state = rancher_->state();
        for (auto const& entry : state.at("requests").as_array())
            if (text(entry.as_object(), "path") == path) ++count;
        return count;
    }

    // The password in the credential of `environment`'s one registry.
    static std::string password_in(std::string const& environment) {
        auto const rows = rancher_->environment(environment);
        auto const& credentials = rows.at("credentials").as_array();
        if (rows.at("registries").as_array().size() != 1 || credentials.size() != 1) return "(not one registry and one credential)";
        return text(credentials.front().as_object(), "secretValue");
    }

    static rancher_stand_in* rancher_;
    boost::asio::io_context context_;
    https_client transport_{context_.get_executor(), {}};
    std::shared_ptr<cattle_discovery> discovery_ = std::make_shared<cattle_discovery>(context_.get_executor());
};

rancher_stand_in* shared_discovery_test::rancher_ = nullptr;

TEST_F(shared_discovery_test, environments_written_at_once_discover_once_and_each_writes_its_own) {
    std::vector<rancher_client> clients;
    for (auto const* environment : {"1a5", "1a6", "1a7"}) clients.push_back(client(environment));
    auto reports = write_all(clients);
    ASSERT_EQ(reports.size(), 3u);
    for (auto const& report : reports) {
        ASSERT_TRUE(report) << describe(report.error());
        EXPECT_TRUE(report->registry_created);
        EXPECT_EQ(report->credentials_created, 1);
    }
    for (auto const* environment : {"env-a", "env-b", "env-c"}) EXPECT_EQ(password_in(environment), new_password) << environment;
    EXPECT_TRUE(discovery_->found());
    // One environment's API root and schemas were read; the other two derived their collections.
    EXPECT_EQ(requests_to_roots(), 1);
    EXPECT_EQ(requests_to("/v2-beta/projects/1a5/schemas") + requests_to("/v2-beta/projects/1a6/schemas") +
                  requests_to("/v2-beta/projects/1a7/schemas"),
              1);
    for (auto const* environment : {"1a5", "1a6", "1a7"}) {
        auto const collection = std::string{"/v2-beta/projects/"} + environment + "/registries";
        EXPECT_GE(requests_to(collection), 1) << collection;
    }
}

TEST_F(shared_discovery_test, clients_waiting_on_a_discovery_the_server_never_answers_fail_with_it) {
    https_client_options options;
    options.request_timeout = std::chrono::milliseconds{300};
    https_client impatient{context_.get_executor(), options};
    std::vector<rancher_client> clients;
    for (auto const* environment : {"1a5", "1a6", "1a7"})
        clients.emplace_back(impatient, *parse_url(rancher_->url() + "/v2-beta/projects/" + environment), "account",
                             "account-secret", discovery_);
    // The first API root read goes unanswered for longer than the client waits.
    rancher_->add_fault(json::object{{"match", json::object{{"method", "GET"}, {"path_contains", "/v2-beta/projects/1a"}}},
                                     {"fault", "delay"},
                                     {"seconds", 2},
                                     {"times", 1}});
    auto reports = write_all(clients);
    ASSERT_EQ(reports.size(), 3u);
    int taken_from_another = 0;
    for (auto const& report : reports) {
        ASSERT_FALSE(report);
        EXPECT_EQ(report.error().kind, failure_kind::timeout) << describe(report.error());
        EXPECT_TRUE(report.error().retryable);
        if (report.error().message.find("met by another environment's discovery") != std::string::npos)
            ++taken_from_another;
    }
    // One client waited for the server; the two waiting behind it took its failure rather than
    // each waiting out a timeout of its own.
    EXPECT_EQ(taken_from_another, 2);
    EXPECT_FALSE(discovery_->found());

    // The failure was that round's: the next write discovers afresh and writes.
    auto written = write(clients[1]);
    ASSERT_TRUE(written) << describe(written.error());
    EXPECT_EQ(password_in("env-b"), new_password);
    EXPECT_EQ(requests_to_roots(), 2);
}

TEST_F(shared_discovery_test, a_refusal_of_one_discovery_leaves_the_waiting_clients_to_discover) {
    // The first API root read is answered, with an error that may be this environment's alone.
    rancher_->add_fault(json::object{{"match", json::object{{"method", "GET"}, {"path_contains", "/v2-beta/projects/1a"}}},
                                     {"fault", "status"},
                                     {"status", 404},
                                     {"times", 1}});
    std::vector<rancher_client> clients;
    for (auto const* environment : {"1a5", "1a6", "1a7"}) clients.push_back(client(environment));
    auto reports = write_all(clients);
    ASSERT_EQ(reports.size(), 3u);
    int refused = 0;
    for (auto const& report : reports) {
        if (report) continue;
        ++refused;
        EXPECT_EQ(report.error().http_status, 404) << describe(report.error());
    }
    EXPECT_EQ(refused, 1);
    // The refused root and the next client's own discovery; the third derived its collections.
    EXPECT_EQ(requests_to_roots(), 2);
    EXPECT_TRUE(discovery_->found());
}

TEST_F(shared_discovery_test, a_discovery_that_fails_leaves_the_next_client_to_discover) {
    auto refused = client("1a5", "not-the-account-secret");
    auto first = write(refused);
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().http_status, 401);
    EXPECT_FALSE(discovery_->found());

    auto second = client("1a6");
    auto written = write(second);
    ASSERT_TRUE(written) << describe(written.error());
    EXPECT_EQ(password_in("env-b"), new_password);
    EXPECT_EQ(requests_to("/v2-beta/projects/1a6/schemas"), 1);
    EXPECT_TRUE(discovery_->found());
}

TEST_F(shared_discovery_test, a_404_at_derived_collections_makes_the_client_discover_its_own) {
    auto first = client("1a5");
    ASSERT_TRUE(write(first));
    // Environment 1a6 as if its registries lay elsewhere: the collection derived for it is not found.
    rancher_->add_fault(json::object{{"match", json::object{{"method", "GET"}, {"path_contains", "/projects/1a6/registries"}}},
                                     {"fault", "status"},
                                     {"status", 404},
                                     {"times", 1}});
    auto second = client("1a6");
    auto refused = write(second);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().http_status, 404);
    EXPECT_EQ(requests_to("/v2-beta/projects/1a6"), 0);

    auto written = write(second);
    ASSERT_TRUE(written) << describe(written.error());
    EXPECT_EQ(password_in("env-b"), new_password);
    // Its own discovery this time.
    EXPECT_EQ(requests_to("/v2-beta/projects/1a6"), 1);
    EXPECT_EQ(requests_to("/v2-beta/projects/1a6/schemas"), 1);
}

// --- Scripted servers: races and answers the stand-in does not give by itself. ---

// A tiny Rancher with one registry collection and one credential collection, scripted per test.
struct scripted_rancher {
    std::mutex mutex;
    std::string origin;  // http://127.0.0.1:PORT, known once the server listens
    int registry_lists = 0;
    std::function<scripted_answer(http_request const&, scripted_rancher&)> on_write;

    static http_response json_answer(int status, std::string body) {
        return http_response{status, {{"Content-Type", "application/json"}}, std::move(body)};
    }

    scripted_answer answer(http_request const& request) {
        std::lock_guard lock{mutex};
        auto const& target = request.target;
        if (request.method == "GET" && target == "/v2-beta")
            return {scripted_answer::action::respond,
                    http_response{200, {{"X-API-Schemas", origin + "/v2-beta/schemas"}}, R"({"type":"apiVersion"})"}, {}};
        if (request.method == "GET" && target == "/v2-beta/schemas")
            return {scripted_answer::action::respond,
                    json_answer(200, R"({"data":[{"id":"registry","links":{"collection":")" + origin +
                                         R"(/v2-beta/registries"}},{"id":"registryCredential","links":{"collection":")" +
                                         origin + R"(/v2-beta/registrycredentials"}}]})"),
                    {}};
        if (request.method == "GET" && target.starts_with("/v2-beta/registries")) {
            ++registry_lists;
            // Empty the first time: the registry appears between our list and our POST.
            std::string data = registry_lists == 1 ? "" : R"({"id":"1sp7","state":"registering","serverAddress":")" +
                                                               ecr_host + R"(","removed":null,"links":{"self":")" +
                                                               origin + R"(/v2-beta/registries/1sp7"}})";
            return {scripted_answer::action::respond, json_answer(200, R"({"data":[)" + data + "]}"), {}};
        }
        if (request.method == "GET" && target.starts_with("/v2-beta/registrycredentials"))
            return {scripted_answer::action::respond, json_answer(200, R"({"data":[]})"), {}};
        return on_write(request, *this);
    }
};

TEST(rancher_client, server_address_used_means_list_again_and_use_that_registry) {
    scripted_rancher rancher;
    std::vector<std::string> writes;
    rancher.on_write = [&](http_request const& request, scripted_rancher&) {
        writes.push_back(request.method + " " + request.target);
        if (request.target == "/v2-beta/registries")
            return scripted_answer{scripted_answer::action::respond,
                                   scripted_rancher::json_answer(400, R"({"type":"error","status":400,)"
                                                                      R"("code":"ServerAddressUsed","message":"ServerAddressUsed"})"),
                                   {}};
        return scripted_answer{scripted_answer::action::respond,
                               scripted_rancher::json_answer(201, R"({"id":"1c9","state":"requested","registryId":"1sp7",)"
                                                                  R"("links":{"self":"/v2-beta/registrycredentials/1c9"}})"),
                               {}};
    };
    loopback_server server{[&](http_request const& request) { return rancher.answer(request); }};
    {
        std::lock_guard lock{rancher.mutex};
        rancher.origin = "http://127.0.0.1:" + std::to_string(server.port());
    }
    boost::asio::io_context context;
    https_client transport{context.get_executor(), {}};
    rancher_client client{transport, *parse_url(rancher.origin), "access", "secret-key-of-the-test"};
    auto report = run_with_deadline(context, client.write_registry_credential(ecr_host, "AWS", new_password, true));
    ASSERT_TRUE(report) << describe(report.error());
    EXPECT_EQ(report->registry_id, "1sp7");
    EXPECT_FALSE(report->registry_created);
    EXPECT_EQ(report->credentials_created, 1);
    EXPECT_EQ(writes, (std::vector<std::string>{"POST /v2-beta/registries", "POST /v2-beta/registrycredentials"}));
    EXPECT_EQ(rancher.registry_lists, 2);

    auto requests = server.requests();
    // The credential's create, then a list again (another writer may have created one meanwhile).
    ASSERT_GE(requests.size(), 2u);
    EXPECT_EQ(requests.back().method, "GET");
    EXPECT_TRUE(requests.back().target.starts_with("/v2-beta/registrycredentials?registryId=1sp7"))
        << requests.back().target;
    auto const& create = requests[requests.size() - 2];
    EXPECT_EQ(create.method + " " + create.target, "POST /v2-beta/registrycredentials");
    EXPECT_EQ(create.header("content-type"), "application/json");
    EXPECT_EQ(create.header("authorization"), basic_authorization("access", "secret-key-of-the-test"));
    EXPECT_EQ(json::parse(create.body), json::parse(R"({"registryId":"1sp7","publicValue":"AWS","secretValue":")" +
                                                    new_password + R"(","email":"not-really@required.anymore"})"));
}

TEST(rancher_client, json_cut_short_with_a_matching_length_is_a_bad_response) {
    scripted_rancher rancher;
    rancher.on_write = [](http_request const&, scripted_rancher&) {
        return scripted_answer{scripted_answer::action::respond, scripted_rancher::json_answer(201, R"({"id":"1sp)"), {}};
    };
    loopback_server server{[&](http_request const& request) { return rancher.answer(request); }};
    {
        std::lock_guard lock{rancher.mutex};
        rancher.origin = "http://127.0.0.1:" + std::to_string(server.port());
    }
    boost::asio::io_context context;
    https_client transport{context.get_executor(), {}};
    rancher_client client{transport, *parse_url(rancher.origin), "access", "secret-key-of-the-test"};
    auto report = run_with_deadline(context, client.write_registry_credential(ecr_host, "AWS", new_password, true));
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().kind, failure_kind::bad_response);
    EXPECT_EQ(report.error().http_status, 201);
    EXPECT_EQ(report.error().message,
              "Rancher POST /v2-beta/registries: malformed Rancher resource: not valid JSON (incomplete JSON)");
}

TEST(rancher_client, a_422_names_code_and_field_and_discovery_is_done_once) {
    scripted_rancher rancher;
    rancher.on_write = [](http_request const&, scripted_rancher&) {
        return scripted_answer{scripted_answer::action::respond,
                               scripted_rancher::json_answer(422, R"({"id":"e1","type":"error","status":422,)"
                                                                  R"("code":"InvalidReference","message":null,)"
                                                                  R"("detail":null,"fieldName":"registryId"})"),
                               {}};
    };
    loopback_server server{[&](http_request const& request) { return rancher.answer(request); }};
    {
        std::lock_guard lock{rancher.mutex};
        rancher.origin = "http://127.0.0.1:" + std::to_string(server.port());
    }
    boost::asio::io_context context;
    https_client transport{context.get_executor(), {}};
    rancher_client client{transport, *parse_url(rancher.origin + "/v1"), "access", "secret-key-of-the-test"};
    for (int run = 0; run < 2; ++run) {
        auto report = run_with_deadline(context, client.write_registry_credential(ecr_host, "AWS", new_password, true));
        ASSERT_FALSE(report);
        EXPECT_EQ(report.error().http_status, 422);
        EXPECT_EQ(report.error().code, "InvalidReference");
        EXPECT_FALSE(report.error().retryable);
        EXPECT_NE(report.error().message.find("field registryId"), std::string::npos) << report.error().message;
        EXPECT_NE(report.error().message.find("Rancher POST /v2-beta/registr"), std::string::npos)
            << report.error().message;
        EXPECT_EQ(describe(report.error()).find(new_password), std::string::npos);
    }
    int discoveries = 0;
    for (auto const& request : server.requests())
        if (request.target == "/v2-beta" || request.target == "/v2-beta/schemas") ++discoveries;
    EXPECT_EQ(discoveries, 2);  // GET base and GET schemas, once for both runs
}

}  // namespace
}  // namespace rancher_ecr
