// Rancher JSON. 1.x (Cattle): collection pages of registries and credentials, single resources,
// the schemas answer, error bodies, and the serverAddress matching that picks what is written.
// 2.x (norman): projects, clusters and docker credentials, the discovery answer, error bodies, and
// the plan of what is written (never a credential holding a host without a fresh token).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "fuzz_check.hpp"
#include "rancher/norman_resources.hpp"
#include "rancher/rancher_resources.hpp"

namespace {

using namespace rancher_ecr;
using rancher_ecr::fuzz::printable_ascii;

constexpr std::array<std::string_view, 4> gone{"removing", "removed", "purging", "purged"};

// How many rows data[] holds, when the body is an object with such an array.
std::size_t row_count(std::string_view body) {
    boost::system::error_code ec;
    auto const root = boost::json::parse(body, ec);
    if (ec || !root.is_object()) return 0;
    auto const* data = root.get_object().if_contains("data");
    return data && data->is_array() ? data->get_array().size() : 0;
}

template <class Row>
void check_row(Row const& row, std::string_view body) {
    FUZZ_CHECK(!row.id.empty(), body);
    FUZZ_CHECK(!row.self_link.empty(), body);
    FUZZ_CHECK(std::ranges::find(gone, row.state) == gone.end(), row.state);
}

void check_failure(failure const& f) {
    FUZZ_CHECK(f.kind == failure_kind::bad_response, f.message);
    FUZZ_CHECK(fuzz::no_control_characters(f.message), f.message);
}

void check_host_matching(std::string_view text) {
    auto const host = registry_host_of(text);
    FUZZ_CHECK(registry_host_of(host) == host, text);  // already bare: read again, unchanged
    FUZZ_CHECK(host.find_first_of("/?# \t@") == std::string::npos, host);
    for (char c : host) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), host);
    if (!host.empty()) FUZZ_CHECK(server_address_matches(text, host), text);
}

void check_pages(std::string_view body) {
    auto const rows = row_count(body);
    if (auto page = parse_registry_page(body)) {
        FUZZ_CHECK(page->items.size() + page->removed_rows == rows, body);
        if (page->next) FUZZ_CHECK(!page->next->empty(), body);
        for (auto const& registry : page->items) {
            check_row(registry, body);
            check_host_matching(registry.server_address);
            // The registry chosen for a host names that host, and is one of the page's.
            auto const host = registry_host_of(registry.server_address);
            auto chosen = select_registry(page->items, host);
            if (host.empty()) {
                FUZZ_CHECK(!chosen, body);
                continue;
            }
            FUZZ_CHECK(chosen.has_value(), body);
            FUZZ_CHECK(server_address_matches(chosen->server_address, host), body);
            FUZZ_CHECK(std::ranges::any_of(page->items, [&](auto const& r) { return r.id == chosen->id; }), body);
        }
    } else {
        check_failure(page.error());
    }
    if (auto page = parse_credential_page(body)) {
        FUZZ_CHECK(page->items.size() + page->removed_rows == rows, body);
        for (auto const& credential : page->items) {
            check_row(credential, body);
            // Only the registry's own, lowest id first.
            auto const mine = credentials_of(page->items, credential.registry_id);
            FUZZ_CHECK(!mine.empty(), body);
            for (std::size_t i = 0; i < mine.size(); ++i) {
                FUZZ_CHECK(mine[i].registry_id == credential.registry_id, body);
                if (i > 0) {
                    auto const& a = mine[i - 1].id;
                    auto const& b = mine[i].id;
                    FUZZ_CHECK(a.size() < b.size() || (a.size() == b.size() && a <= b), body);
                }
            }
        }
    } else {
        check_failure(page.error());
    }
}

void check_resources(std::string_view body) {
    if (auto registry = parse_registry(body)) {
        FUZZ_CHECK(!registry->self_link.empty(), body);
    } else {
        check_failure(registry.error());
    }
    if (auto credential = parse_credential(body); !credential) check_failure(credential.error());
    if (auto schemas = parse_schemas(body)) {
        FUZZ_CHECK(!schemas->registries.empty() && !schemas->credentials.empty(), body);
    } else {
        check_failure(schemas.error());
    }
}

void check_error(int status, std::string_view body) {
    constexpr std::string_view operation = "Rancher PUT /v2-beta/registrycredentials/1c34";
    auto const f = parse_rancher_error(status, body, operation);
    FUZZ_CHECK(f.kind == failure_kind::service, f.message);
    FUZZ_CHECK(f.http_status == status, f.message);
    FUZZ_CHECK(f.message.starts_with(std::string{operation} + " failed: HTTP " + std::to_string(status)), f.message);
    FUZZ_CHECK(printable_ascii(f.message), f.message);
    FUZZ_CHECK(printable_ascii(f.code), f.code);
    FUZZ_CHECK(f.retryable == is_retryable_rancher_error(status), f.message);
    FUZZ_CHECK(f.message.size() <= operation.size() + 1200, f.message);
}

void check_norman(int status, std::string_view body) {
    if (auto page = parse_project_page(body)) {
        FUZZ_CHECK(page->items.size() == row_count(body), body);
        for (auto const& project : page->items) FUZZ_CHECK(!project.id.empty() && !project.docker_credentials_link.empty(), body);
    } else {
        check_failure(page.error());
    }
    if (auto project = parse_project(body); !project) check_failure(project.error());
    if (auto clusters = parse_cluster_page(body); !clusters) check_failure(clusters.error());
    if (auto page = parse_docker_credential_page(body)) {
        FUZZ_CHECK(page->items.size() == row_count(body), body);
        std::vector<std::string> fresh;
        for (auto const& credential : page->items) {
            FUZZ_CHECK(!credential.id.empty() && !credential.update_link.empty(), body);
            if (!credential.registries.empty()) fresh.push_back(registry_host_of(credential.registries.front()));
        }
        std::erase(fresh, std::string{});
        auto const plan = plan_norman_writes(page->items, fresh, true, std::nullopt);
        // Every host of an updated credential has a fresh token; every refused one holds another.
        for (auto const& update : plan.updates) {
            for (auto const& key : update.credential.registries)
                FUZZ_CHECK(std::ranges::find(fresh, registry_host_of(key)) != fresh.end(), body);
        }
        for (auto const& refused : plan.left_alone)
            FUZZ_CHECK(std::ranges::find(fresh, refused.foreign_host) == fresh.end(), body);
        for (auto const& create : plan.creates) FUZZ_CHECK(is_dns1123_subdomain(create.name), create.name);
    } else {
        check_failure(page.error());
    }
    if (auto credential = parse_docker_credential(body); !credential) check_failure(credential.error());
    (void)is_norman_discovery_answer(status, body);
    constexpr std::string_view operation = "Rancher PUT /v3/project/c-abcde:p-xyz12/dockercredentials/p-xyz12:ecr";
    auto const f = parse_norman_error(status, body, operation);
    FUZZ_CHECK(f.kind == failure_kind::service && f.http_status == status, f.message);
    FUZZ_CHECK(printable_ascii(f.message), f.message);
    FUZZ_CHECK(f.retryable == is_retryable_rancher_error(status), f.message);
    FUZZ_CHECK(is_dns1123_subdomain(default_credential_name(body.substr(0, 300))), body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const body{reinterpret_cast<char const*>(data), size};
    check_pages(body);
    check_resources(body);
    static constexpr std::array<int, 7> statuses{400, 401, 403, 404, 422, 500, 503};
    check_error(statuses[size % statuses.size()], body);
    check_norman(statuses[size % statuses.size()], body);
    check_host_matching(body.substr(0, 300));
    return 0;
}
