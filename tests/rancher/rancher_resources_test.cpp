#include "rancher/rancher_resources.hpp"

#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

namespace json = boost::json;

// A registry row as Cattle writes it (§1.4), with slashes escaped as Cattle does.
std::string registry_row(std::string const& id, std::string const& address, std::string const& state = "active",
                         std::string const& removed = "null") {
    return R"({"id":")" + id + R"(","type":"registry","baseType":"storagePool",)"
           R"("links":{"self":"http:\/\/r:8080\/v2-beta\/registries\/)" + id + R"("},"actions":{},)"
           R"("name":"ecr","kind":"registry","accountId":"1a5","state":")" + state + R"(",)"
           R"("serverAddress":")" + address + R"(","removed":)" + removed + R"(,"transitioning":"no"})";
}

std::string credential_row(std::string const& id, std::string const& registry_id, std::string const& state = "active",
                           std::string const& removed = "null") {
    return R"({"id":")" + id + R"(","type":"registryCredential","baseType":"credential",)"
           R"("links":{"self":"http:\/\/r:8080\/v2-beta\/registrycredentials\/)" + id + R"("},)"
           R"("registryId":")" + registry_id + R"(","publicValue":"AWS","secretValue":null,"state":")" + state +
           R"(","removed":)" + removed + "}";
}

std::string collection(std::vector<std::string> const& rows, std::string const& next = "null") {
    std::string data;
    for (auto const& row : rows) data += (data.empty() ? "" : ",") + row;
    return R"({"type":"collection","resourceType":"registry","links":{},"data":[)" + data +
           R"(],"pagination":{"first":null,"previous":null,"next":)" + next +
           R"(,"limit":100,"total":null,"partial":false},"sort":null,"filters":{}})";
}

TEST(parse_registry_page, reads_live_rows_and_the_next_page) {
    auto page = parse_registry_page(
        collection({registry_row("1sp1", "123456789012.dkr.ecr.us-east-1.amazonaws.com"),
                    registry_row("1sp2", "quay.io", "inactive")},
                   R"("http:\/\/r:8080\/v2-beta\/registries?marker=m100")"));
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->items.size(), 2u);
    EXPECT_EQ(page->items[0].id, "1sp1");
    EXPECT_EQ(page->items[0].state, "active");
    EXPECT_EQ(page->items[0].server_address, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    EXPECT_EQ(page->items[0].self_link, "http://r:8080/v2-beta/registries/1sp1");
    EXPECT_EQ(page->items[1].state, "inactive");
    EXPECT_EQ(page->next, "http://r:8080/v2-beta/registries?marker=m100");
    EXPECT_EQ(page->removed_rows, 0u);
}

TEST(parse_registry_page, skips_removed_rows_by_timestamp_or_state) {
    auto page = parse_registry_page(collection({
        registry_row("1sp1", "a.example", "active", R"("2017-06-01T10:00:00Z")"),
        registry_row("1sp2", "b.example", "removing"),
        registry_row("1sp3", "c.example", "removed"),
        registry_row("1sp4", "d.example", "purging"),
        registry_row("1sp5", "e.example", "purged"),
        // A removed row need not be complete to be skipped.
        R"({"state":"removed","removed":"2017-06-01T10:00:00Z"})",
        registry_row("1sp6", "f.example", "registering"),
    }));
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->items.size(), 1u);
    EXPECT_EQ(page->items[0].id, "1sp6");
    EXPECT_EQ(page->removed_rows, 6u);
    EXPECT_FALSE(page->next);
}

TEST(is_removed_row, decides_on_state_and_timestamp) {
    EXPECT_FALSE(is_removed_row("active", false));
    EXPECT_FALSE(is_removed_row("inactive", false));
    EXPECT_FALSE(is_removed_row("", false));
    EXPECT_TRUE(is_removed_row("active", true));
    for (auto state : {"removing", "removed", "purging", "purged"}) EXPECT_TRUE(is_removed_row(state, false)) << state;
}

TEST(parse_registry_page, a_missing_pagination_or_null_fields_are_fine) {
    auto page = parse_registry_page(
        R"({"data":[{"id":"1sp1","links":{"self":"http://r/v2-beta/registries/1sp1"},"serverAddress":null,"state":null}]})");
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->items.size(), 1u);
    EXPECT_EQ(page->items[0].server_address, "");
    EXPECT_FALSE(page->next);
}

TEST(parse_registry_page, malformed_answers_name_the_problem) {
    struct case_t {
        std::string body;
        std::string expected;
    };
    std::vector<case_t> const cases{
        {"", "the body is empty"},
        {R"({"data":[)", "not valid JSON"},
        {"[]", "expected a JSON object, got an array"},
        {R"({"type":"collection"})", "data is missing"},
        {R"({"data":{}})", "data: expected an array, got an object"},
        {R"({"data":[1]})", "data[0]: expected an object, got a number"},
        {R"({"data":[{"links":{"self":"http://r/x"}}]})", "data[0].id is missing"},
        {R"({"data":[{"id":"1sp1"}]})", "data[0].links.self is missing"},
        {R"({"data":[{"id":"1sp1","links":{"self":7}}]})", "data[0].links.self: expected a string, got a number"},
        {R"({"data":[{"id":"1sp1","links":{"self":"http://r/x"},"serverAddress":[]}]})",
         "data[0].serverAddress: expected a string, got an array"},
        {R"({"data":[],"pagination":{"next":5}})", "pagination.next: expected a string, got a number"},
    };
    for (auto const& c : cases) {
        auto page = parse_registry_page(c.body);
        ASSERT_FALSE(page) << c.body;
        EXPECT_EQ(page.error().kind, failure_kind::bad_response);
        EXPECT_FALSE(page.error().retryable);
        EXPECT_NE(page.error().message.find(c.expected), std::string::npos) << page.error().message;
    }
}

TEST(parse_credential_page, reads_registry_ids) {
    auto page = parse_credential_page(collection({credential_row("1c34", "1sp12"), credential_row("1c35", "1sp12", "inactive"),
                                                  credential_row("1c36", "1sp12", "removed")}));
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->items.size(), 2u);
    EXPECT_EQ(page->items[0].registry_id, "1sp12");
    EXPECT_EQ(page->items[0].self_link, "http://r:8080/v2-beta/registrycredentials/1c34");
    EXPECT_EQ(page->items[1].state, "inactive");
    EXPECT_EQ(page->removed_rows, 1u);
}

TEST(parse_resource, reads_a_created_registry_and_credential) {
    auto registry = parse_registry(registry_row("1sp9", "host.example", "registering"));
    ASSERT_TRUE(registry) << registry.error().message;
    EXPECT_EQ(registry->id, "1sp9");
    EXPECT_EQ(registry->state, "registering");
    auto credential = parse_credential(credential_row("1c9", "1sp9", "requested"));
    ASSERT_TRUE(credential) << credential.error().message;
    EXPECT_EQ(credential->registry_id, "1sp9");
    auto broken = parse_registry(R"({"id":"1sp9")");
    ASSERT_FALSE(broken);
    EXPECT_NE(broken.error().message.find("malformed Rancher resource: not valid JSON"), std::string::npos)
        << broken.error().message;
}

TEST(parse_schemas, finds_both_collections) {
    auto schemas = parse_schemas(R"({"type":"collection","data":[
        {"id":"account","links":{"collection":"http://r/v2-beta/accounts"}},
        {"id":"registry","pluralName":"registries","links":{"self":"http://r/v2-beta/schemas/registry",
         "collection":"http:\/\/r\/v2-beta\/projects\/1a5\/registries"}},
        {"id":"registryCredential","links":{"collection":"http://r/v2-beta/projects/1a5/registrycredentials"}}]})");
    ASSERT_TRUE(schemas) << schemas.error().message;
    EXPECT_EQ(schemas->registries, "http://r/v2-beta/projects/1a5/registries");
    EXPECT_EQ(schemas->credentials, "http://r/v2-beta/projects/1a5/registrycredentials");
}

TEST(parse_schemas, a_missing_schema_is_named) {
    auto schemas = parse_schemas(R"({"data":[{"id":"registry","links":{"collection":"http://r/v2-beta/registries"}}]})");
    ASSERT_FALSE(schemas);
    EXPECT_EQ(schemas.error().kind, failure_kind::bad_response);
    EXPECT_NE(schemas.error().message.find("'registryCredential'"), std::string::npos) << schemas.error().message;
    EXPECT_FALSE(parse_schemas("not json"));
    EXPECT_FALSE(parse_schemas(R"({"data":5})"));
}

TEST(registry_host_of, drops_scheme_path_slash_and_case_but_keeps_the_port) {
    EXPECT_EQ(registry_host_of("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
              "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    EXPECT_EQ(registry_host_of("https://123456789012.DKR.ECR.us-east-1.amazonaws.com/"),
              "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    EXPECT_EQ(registry_host_of(" HTTP://Host.Example:5000/v2/ "), "host.example:5000");
    EXPECT_EQ(registry_host_of("host.example/"), "host.example");
    EXPECT_EQ(registry_host_of("host.example:443"), "host.example:443");
    EXPECT_EQ(registry_host_of("https://user@host.example"), "host.example");
    EXPECT_EQ(registry_host_of(""), "");
    EXPECT_EQ(registry_host_of("https://"), "");
}

TEST(server_address_matches, compares_hosts_not_strings) {
    std::string const host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    EXPECT_TRUE(server_address_matches(host, host));
    EXPECT_TRUE(server_address_matches("https://123456789012.dkr.ecr.US-EAST-1.amazonaws.com/", host));
    EXPECT_FALSE(server_address_matches("123456789012.dkr.ecr.us-east-1.amazonaws.com:443", host));
    EXPECT_FALSE(server_address_matches("123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example", host));
    EXPECT_FALSE(server_address_matches("999999999999.dkr.ecr.us-east-1.amazonaws.com", host));
    EXPECT_FALSE(server_address_matches("", ""));
}

TEST(select_registry, prefers_the_exact_address_then_active_then_the_lowest_id) {
    std::string const host = "h.example";
    std::vector<rancher_registry> registries{
        {"1sp20", "active", "https://H.example/", "l20"},
        {"1sp9", "active", "other.example", "l9"},
        {"1sp12", "inactive", "h.example", "l12"},
        {"1sp11", "active", "H.EXAMPLE", "l11"},
        {"1sp30", "active", "h.example", "l30"},
    };
    EXPECT_EQ(select_registry(registries, host)->id, "1sp11");
    registries.erase(registries.begin() + 3);  // 1sp11
    EXPECT_EQ(select_registry(registries, host)->id, "1sp30");
    registries.pop_back();  // 1sp30
    EXPECT_EQ(select_registry(registries, host)->id, "1sp12");
    registries.erase(registries.begin() + 2);  // 1sp12
    EXPECT_EQ(select_registry(registries, host)->id, "1sp20");
    EXPECT_FALSE(select_registry(registries, "nowhere.example"));
    EXPECT_FALSE(select_registry({}, host));
}

TEST(credentials_of, keeps_only_the_registry_lowest_id_first) {
    std::vector<rancher_credential> credentials{
        {"1c12", "active", "1sp1", "a", false},
        {"1c9", "inactive", "1sp1", "b", false},
        {"1c10", "active", "1sp2", "c", false},
    };
    auto mine = credentials_of(credentials, "1sp1");
    ASSERT_EQ(mine.size(), 2u);
    EXPECT_EQ(mine[0].id, "1c9");
    EXPECT_EQ(mine[1].id, "1c12");
    EXPECT_TRUE(credentials_of(credentials, "1sp3").empty());
}

// --- Convergence of concurrent writers on one credential (issue 10, fault 3) ---

rancher_credential credential(std::string const& id, std::string const& registry = "1sp1",
                              std::string const& state = "active") {
    return {id, state, registry, "http://r:8080/v2-beta/registrycredentials/" + id, false};
}

std::vector<std::string> ids_of(std::vector<rancher_credential> const& credentials) {
    std::vector<std::string> out;
    for (auto const& c : credentials) out.push_back(c.id);
    return out;
}

using ids = std::vector<std::string>;

TEST(older_credential, compares_the_numbers_of_the_ids) {
    EXPECT_TRUE(older_credential("1c9", "1c12"));
    EXPECT_FALSE(older_credential("1c12", "1c9"));
    EXPECT_FALSE(older_credential("1c9", "1c9"));
    EXPECT_TRUE(older_credential("1c99", "1c100"));
}

TEST(plan_credential_writes, a_registry_without_a_live_credential_gets_one) {
    auto plan = plan_credential_writes({}, "1sp1", {});
    EXPECT_TRUE(plan.create);
    EXPECT_TRUE(plan.write.empty());
    EXPECT_TRUE(plan.remove.empty());
    // Another registry's credential (a server that ignored ?registryId=) does not count.
    std::vector<rancher_credential> others{credential("1c1", "1sp2")};
    EXPECT_TRUE(plan_credential_writes(others, "1sp1", {}).create);
}

TEST(plan_credential_writes, without_a_create_every_credential_someone_else_made_is_written_none_removed) {
    std::vector<rancher_credential> listed{credential("1c12"), credential("1c9", "1sp1", "inactive"),
                                           credential("1c10", "1sp2")};
    auto plan = plan_credential_writes(listed, "1sp1", {});
    EXPECT_FALSE(plan.create);
    EXPECT_EQ(ids_of(plan.write), (ids{"1c9", "1c12"}));
    EXPECT_TRUE(plan.remove.empty());
}

TEST(plan_credential_writes, after_a_create_the_oldest_stays) {
    // Ours is the oldest: it holds the password; the newer ones are their creators' to remove.
    std::vector<rancher_credential> listed{credential("1c4"), credential("1c5"), credential("1c6")};
    auto keep = plan_credential_writes(listed, "1sp1", {}, credential("1c4"));
    EXPECT_FALSE(keep.create);
    EXPECT_TRUE(keep.write.empty());
    EXPECT_TRUE(keep.remove.empty());

    // Ours is not: it goes, and the password goes into the oldest (whoever made it).
    auto lose = plan_credential_writes(listed, "1sp1", {}, credential("1c5"));
    EXPECT_FALSE(lose.create);
    EXPECT_EQ(ids_of(lose.write), (ids{"1c4"}));
    EXPECT_EQ(ids_of(lose.remove), (ids{"1c5"}));
}

TEST(plan_credential_writes, ids_are_compared_as_numbers) {
    std::vector<rancher_credential> listed{credential("1c10"), credential("1c9")};
    auto plan = plan_credential_writes(listed, "1sp1", {}, credential("1c10"));
    EXPECT_EQ(ids_of(plan.write), (ids{"1c9"}));
    EXPECT_EQ(ids_of(plan.remove), (ids{"1c10"}));
}

TEST(plan_credential_writes, a_list_that_misses_our_own_create_still_counts_it) {
    // The list lags behind our POST: ours is still live (only we remove it).
    std::vector<rancher_credential> older{credential("1c3")};
    auto lose = plan_credential_writes(older, "1sp1", {}, credential("1c7"));
    EXPECT_EQ(ids_of(lose.write), (ids{"1c3"}));
    EXPECT_EQ(ids_of(lose.remove), (ids{"1c7"}));
    auto alone = plan_credential_writes({}, "1sp1", {}, credential("1c7"));
    EXPECT_FALSE(alone.create);
    EXPECT_TRUE(alone.write.empty());
    EXPECT_TRUE(alone.remove.empty());
}

TEST(plan_credential_writes, a_duplicate_we_made_earlier_is_removed_at_a_later_write) {
    // A refresh after one whose check failed: 1c8 is ours, 1c3 older and someone else's.
    std::vector<rancher_credential> listed{credential("1c8"), credential("1c3"), credential("1c9")};
    ids const ours{"1c8", "1c77"};
    auto plan = plan_credential_writes(listed, "1sp1", ours);
    EXPECT_FALSE(plan.create);
    EXPECT_EQ(ids_of(plan.write), (ids{"1c3", "1c9"}));
    EXPECT_EQ(ids_of(plan.remove), (ids{"1c8"}));
    // Ours and the oldest: kept and written.
    auto oldest = plan_credential_writes(listed, "1sp1", ids{"1c3"});
    EXPECT_EQ(ids_of(oldest.write), (ids{"1c3", "1c8", "1c9"}));
    EXPECT_TRUE(oldest.remove.empty());
    // Ours on another registry: not this registry's business.
    auto elsewhere = plan_credential_writes(listed, "1sp2", ours);
    EXPECT_TRUE(elsewhere.create);
}

TEST(next_removal_step, follows_the_cattle_states) {
    EXPECT_EQ(next_removal_step("active", false), removal_step::deactivate);
    for (auto state : {"inactive", "requested", "registering", "updating-active", "updating-inactive"})
        EXPECT_EQ(next_removal_step(state, false), removal_step::remove) << state;
    for (auto state : {"activating", "deactivating", "error", ""})
        EXPECT_EQ(next_removal_step(state, false), removal_step::wait) << state;
    for (auto state : {"removing", "removed", "purging", "purged"})
        EXPECT_EQ(next_removal_step(state, false), removal_step::done) << state;
    EXPECT_EQ(next_removal_step("inactive", true), removal_step::done);
}

// Every interleaving of writers over a model of Cattle's store: ids grow in the order of creates,
// and a list sees every credential created before it and not removed. Each writer lists, creates
// when the plan says so, lists again, writes, then removes (deactivate + DELETE, taken as one step:
// a row being deactivated is still listed, so it still counts until it is deleted).
class convergence_model {
public:
    struct row {
        int number = 0;
        int creator = -1;  // the writer that created it; -1: someone else (an operator, before)
        bool removed = false;
        bool fresh = false;  // holds a password a writer wrote
    };
    struct writer {
        enum class step { list, create, relist, write, remove, done } next = step::list;
        registry_credential_plan plan;
        std::optional<rancher_credential> created;
        std::vector<std::string> ours;
    };
    struct state {
        std::vector<row> rows;
        std::vector<writer> writers;
        bool operator_pending = false;  // an operator still has to add a (stale) credential
        int next_number = 1;
    };

    // Runs `check` on the end of every interleaving that starts from `start`; returns how many.
    template <class Check>
    static long every_ending(state const& start, Check const& check) {
        long endings = 0;
        explore(start, check, endings);
        return endings;
    }

    static std::vector<rancher_credential> listed(state const& s) {
        std::vector<rancher_credential> out;
        for (auto const& r : s.rows)
            if (!r.removed) out.push_back(credential("1c" + std::to_string(r.number)));
        return out;
    }
    static row* find(state& s, std::string const& id) {
        for (auto& r : s.rows)
            if ("1c" + std::to_string(r.number) == id) return &r;
        return nullptr;
    }
    static void add_row(state& s, int creator) {
        s.rows.push_back(row{s.next_number++, creator, false, creator >= 0});
    }

private:
    template <class Check>
    static void explore(state const& s, Check const& check, long& endings) {
        bool any = false;
        for (std::size_t i = 0; i < s.writers.size(); ++i) {
            if (s.writers[i].next == writer::step::done) continue;
            any = true;
            state next = s;
            advance(next, static_cast<int>(i));
            explore(next, check, endings);
        }
        if (s.operator_pending) {
            any = true;
            state next = s;
            next.operator_pending = false;
            add_row(next, -1);
            explore(next, check, endings);
        }
        if (!any) {
            ++endings;
            check(s);
        }
    }

    static void advance(state& s, int index) {
        auto& w = s.writers[static_cast<std::size_t>(index)];
        switch (w.next) {
            case writer::step::list:
                w.plan = plan_credential_writes(listed(s), "1sp1", w.ours);
                w.next = w.plan.create ? writer::step::create : writer::step::write;
                break;
            case writer::step::create:
                add_row(s, index);
                w.created = credential("1c" + std::to_string(s.rows.back().number));
                w.ours.push_back(w.created->id);
                w.next = writer::step::relist;
                break;
            case writer::step::relist:
                w.plan = plan_credential_writes(listed(s), "1sp1", w.ours, w.created);
                w.next = writer::step::write;
                break;
            case writer::step::write: {
                bool oldest_gone = false;
                for (auto const& target : w.plan.write) {
                    auto* r = find(s, target.id);
                    ASSERT_NE(r, nullptr);
                    if (r->removed) {  // an update racing a delete: skipped, as the client does
                        if (&target == &w.plan.write.front()) oldest_gone = true;
                        continue;
                    }
                    r->fresh = true;
                }
                // The oldest is never removed under the rule; the client would stop here.
                ASSERT_FALSE(oldest_gone);
                w.next = writer::step::remove;
                break;
            }
            case writer::step::remove:
                for (auto const& target : w.plan.remove) {
                    auto* r = find(s, target.id);
                    ASSERT_NE(r, nullptr);
                    ASSERT_EQ(r->creator, index) << "removed " << target.id << ", which it did not create";
                    r->removed = true;
                }
                w.next = writer::step::done;
                break;
            case writer::step::done: break;
        }
    }
};

TEST(plan_credential_writes, three_writers_in_every_interleaving_leave_one_fresh_credential) {
    convergence_model::state start;
    start.writers.resize(3);
    auto endings = convergence_model::every_ending(start, [](convergence_model::state const& end) {
        std::vector<convergence_model::row> live;
        for (auto const& r : end.rows)
            if (!r.removed) live.push_back(r);
        ASSERT_EQ(live.size(), 1u);
        EXPECT_TRUE(live[0].fresh);
        EXPECT_EQ(live[0].number, 1);  // the oldest of the ones created
    });
    EXPECT_GT(endings, 1000);  // the races happened: many orders, some with three creates
}

TEST(plan_credential_writes, writers_never_remove_a_credential_that_existed_before) {
    convergence_model::state start;
    start.writers.resize(3);
    convergence_model::add_row(start, -1);  // stale, made by someone else
    auto endings = convergence_model::every_ending(start, [](convergence_model::state const& end) {
        ASSERT_EQ(end.rows.size(), 1u);  // nobody created one
        EXPECT_FALSE(end.rows[0].removed);
        EXPECT_TRUE(end.rows[0].fresh);
    });
    EXPECT_GT(endings, 1);
}

TEST(plan_credential_writes, an_operator_adding_one_meanwhile_keeps_it_and_writers_converge) {
    convergence_model::state start;
    start.writers.resize(2);
    start.operator_pending = true;
    auto endings = convergence_model::every_ending(start, [](convergence_model::state const& end) {
        std::vector<convergence_model::row> live;
        for (auto const& r : end.rows)
            if (!r.removed) live.push_back(r);
        ASSERT_FALSE(live.empty());
        int by_writers = 0;
        for (auto const& r : end.rows) {
            if (r.creator < 0) {
                EXPECT_FALSE(r.removed) << "the operator's credential was removed";
            }
            if (r.creator >= 0 && !r.removed) ++by_writers;
        }
        // At most one of the writers' stays, and only as the oldest; the oldest holds a fresh password
        // (an operator's made after the writers finished is newer, and written at their next refresh).
        EXPECT_LE(by_writers, 1);
        if (by_writers == 1) {
            EXPECT_GE(live[0].creator, 0);
        }
        EXPECT_TRUE(live[0].fresh);
    });
    EXPECT_GT(endings, 100);
}

TEST(bodies, carry_the_fields_rancher_expects) {
    auto update = json::parse(credential_update_body("AWS", "pa\"ss/word"));
    EXPECT_EQ(update, json::parse(R"({"publicValue":"AWS","secretValue":"pa\"ss/word","email":"not-really@required.anymore"})"));
    auto create = json::parse(credential_create_body("1sp12", "AWS", "token"));
    EXPECT_EQ(create, json::parse(R"({"registryId":"1sp12","publicValue":"AWS","secretValue":"token",)"
                                  R"("email":"not-really@required.anymore"})"));
    auto registry = json::parse(registry_create_body("123456789012.dkr.ecr.us-east-1.amazonaws.com"));
    EXPECT_EQ(registry.at("serverAddress"), "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    EXPECT_TRUE(registry.at("name").is_string());
}

TEST(is_retryable_rancher_error, only_throttling_and_server_errors) {
    for (int status : {429, 500, 502, 503, 504}) EXPECT_TRUE(is_retryable_rancher_error(status)) << status;
    for (int status : {400, 401, 403, 404, 405, 409, 422}) EXPECT_FALSE(is_retryable_rancher_error(status)) << status;
}

TEST(registry_not_found, names_the_host_and_what_to_do) {
    auto problem = registry_not_found("h.example", "http://r:8080/v2-beta");
    EXPECT_EQ(problem.kind, failure_kind::service);
    EXPECT_EQ(problem.refused, refusal::registry_not_found);
    EXPECT_FALSE(problem.retryable);
    EXPECT_EQ(problem.message, "no Rancher registry for h.example at http://r:8080/v2-beta; add one with server "
                               "address h.example, or set AUTO_CREATE=true");
}

TEST(parse_rancher_error, a_validation_error_names_code_and_field) {
    auto problem = parse_rancher_error(
        422,
        R"({"id":"x","type":"error","baseType":"error","links":{},"actions":{},"status":422,)"
        R"("code":"MissingRequired","message":null,"detail":null,"fieldName":"registryId"})",
        "Rancher POST /v2-beta/registrycredentials");
    EXPECT_EQ(problem.kind, failure_kind::service);
    EXPECT_EQ(problem.http_status, 422);
    EXPECT_EQ(problem.code, "MissingRequired");
    EXPECT_FALSE(problem.retryable);
    EXPECT_EQ(problem.message, "Rancher POST /v2-beta/registrycredentials failed: HTTP 422 MissingRequired, field registryId");
}

TEST(parse_rancher_error, status_only_errors_get_a_hint) {
    auto unauthorized = parse_rancher_error(401, R"({"type":"error","status":401,"code":"Unauthorized","message":"Unauthorized"})",
                                            "Rancher GET /v2-beta");
    EXPECT_EQ(unauthorized.message,
              "Rancher GET /v2-beta failed: HTTP 401 Unauthorized; check CATTLE_ACCESS_KEY and CATTLE_SECRET_KEY");
    EXPECT_FALSE(unauthorized.retryable);
    EXPECT_NE(parse_rancher_error(403, "{}", "op").message.find("environment API key"), std::string::npos);
    EXPECT_NE(parse_rancher_error(404, R"({"code":"Not Found"})", "op").message.find("check CATTLE_URL"), std::string::npos);
}

TEST(parse_rancher_error, server_address_used_keeps_its_code) {
    auto used = parse_rancher_error(
        400, R"({"type":"error","status":400,"code":"ServerAddressUsed","message":"ServerAddressUsed"})", "op");
    EXPECT_EQ(used.code, "ServerAddressUsed");
    EXPECT_FALSE(used.retryable);
    EXPECT_NE(used.message.find("already exists"), std::string::npos) << used.message;
}

TEST(parse_rancher_error, a_proxy_page_is_quoted_short_and_clean) {
    auto gateway = parse_rancher_error(503, "<html>\r\n<body>\x01 Service   Unavailable</body></html>" + std::string(500, 'x'),
                                       "Rancher GET /v2-beta/registries");
    EXPECT_EQ(gateway.kind, failure_kind::service);
    EXPECT_TRUE(gateway.retryable);
    EXPECT_TRUE(gateway.code.empty());
    EXPECT_NE(gateway.message.find("HTTP 503, not a Rancher error: <html> <body>? Service Unavailable</body>"),
              std::string::npos)
        << gateway.message;
    EXPECT_LT(gateway.message.size(), 300u);
    EXPECT_EQ(parse_rancher_error(502, "", "op").message, "op failed: HTTP 502");
    EXPECT_TRUE(parse_rancher_error(429, "", "op").retryable);
}

}  // namespace
}  // namespace rancher_ecr
