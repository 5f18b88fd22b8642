#include "rancher/norman_resources.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>

#include "peer_text.hpp"
#include "rancher/rancher_api.hpp"
#include "rancher/rancher_resources.hpp"

namespace rancher_ecr {
namespace {

namespace json = boost::json;

failure malformed(std::string_view what, std::string const& detail) {
    return make_failure(failure_kind::bad_response, "malformed Rancher " + std::string{what} + ": " + detail);
}

std::string kind_of(json::value const& value) { return std::string{json_kind_name(value.kind())}; }

result<norman_project> read_project(rancher_row const& reader) {
    norman_project out;
    for (auto [name, field] : {std::pair{"id", &out.id}, std::pair{"name", &out.name}}) {
        auto text = reader.required_string(name);
        if (!text) return text.error();
        *field = std::move(*text);
    }
    auto cluster = reader.string_or_empty("clusterId");
    if (!cluster) return cluster.error();
    out.cluster_id = std::move(*cluster);
    for (auto [name, field] : {std::pair{"dockerCredentials", &out.docker_credentials_link},
                               std::pair{"namespacedDockerCredentials", &out.namespaced_docker_credentials_link}}) {
        auto link = reader.link(name);
        if (!link) return link.error();
        if (link->empty()) return reader.missing(std::string{"links."} + name);
        *field = std::move(*link);
    }
    return out;
}

result<norman_cluster> read_cluster(rancher_row const& reader) {
    norman_cluster out;
    for (auto [name, field] : {std::pair{"id", &out.id}, std::pair{"name", &out.name}}) {
        auto text = reader.required_string(name);
        if (!text) return text.error();
        *field = std::move(*text);
    }
    return out;
}

result<norman_credential> read_credential(rancher_row const& reader) {
    norman_credential out;
    for (auto [name, field] : {std::pair{"id", &out.id}, std::pair{"name", &out.name}}) {
        auto text = reader.required_string(name);
        if (!text) return text.error();
        *field = std::move(*text);
    }
    auto namespace_id = reader.optional_string("namespaceId");
    if (!namespace_id) return namespace_id.error();
    out.namespace_id = std::move(*namespace_id);
    auto registries = reader.object_keys("registries");
    if (!registries) return registries.error();
    out.registries = std::move(*registries);
    auto update = reader.link("update");
    if (!update) return update.error();
    if (update->empty()) {
        update = reader.link("self");
        if (!update) return update.error();
    }
    if (update->empty()) return reader.missing("links.self");
    out.update_link = std::move(*update);
    return out;
}

template <class T>
using row_parser = result<T> (*)(rancher_row const&);

template <class T>
result<norman_page<T>> parse_page(std::string_view body, row_parser<T> parse_row) {
    answer_arena arena;
    auto root = parse_rancher_object(body, "collection", arena);
    if (!root) return root.error();
    json::value const* data = root->if_contains("data");
    if (data == nullptr) return malformed("collection", "data is missing (not a collection?)");
    if (!data->is_array()) return malformed("collection", "data: expected an array, got " + kind_of(*data));
    norman_page<T> page;
    auto const& rows = data->get_array();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        std::string where = "data[" + std::to_string(i) + "]";
        if (!rows[i].is_object()) return malformed("collection", where + ": expected an object, got " + kind_of(rows[i]));
        auto row = parse_row(rancher_row{rows[i].get_object(), std::move(where)});
        if (!row) return row.error();
        page.items.push_back(std::move(*row));
    }
    auto next = read_next_page_link(*root);
    if (!next) return next.error();
    page.next = std::move(*next);
    return page;
}

template <class T>
result<T> parse_resource(std::string_view body, row_parser<T> parse_row) {
    answer_arena arena;
    auto root = parse_rancher_object(body, "resource", arena);
    if (!root) return root.error();
    return parse_row(rancher_row{*root, "resource"});
}

bool dns1123(std::string_view name, std::size_t max_size, bool dots) {
    if (name.empty() || name.size() > max_size) return false;
    auto alphanumeric = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alphanumeric(name.front()) || !alphanumeric(name.back())) return false;
    return std::ranges::all_of(name, [&](char c) { return alphanumeric(c) || c == '-' || (dots && c == '.'); });
}

std::string registries_json(std::span<std::pair<std::string, std::string> const> host_passwords,
                            std::string_view username) {
    json::object registries;
    for (auto const& [host, password] : host_passwords)
        registries[host] = json::object{{"username", username}, {"password", password}};
    return json::serialize(registries);
}

std::string_view norman_hint(int http_status, std::string_view code) {
    switch (http_status) {
        case 401: return "check CATTLE_ACCESS_KEY and CATTLE_SECRET_KEY (a Rancher 2 API key, token-xxxxx, and its secret)";
        case 403: return "the API key may not read or write secrets in this project";
        case 404: return "check CATTLE_URL and RANCHER_PROJECT";
        case 503:
            if (code == "ClusterUnavailable") return "the project's cluster is unavailable to Rancher";
            break;
        default: break;
    }
    return {};
}

}  // namespace

result<norman_page<norman_project>> parse_project_page(std::string_view body) {
    return parse_page<norman_project>(body, read_project);
}

result<norman_project> parse_project(std::string_view body) { return parse_resource<norman_project>(body, read_project); }

result<norman_page<norman_cluster>> parse_cluster_page(std::string_view body) {
    return parse_page<norman_cluster>(body, read_cluster);
}

result<norman_page<norman_credential>> parse_docker_credential_page(std::string_view body) {
    return parse_page<norman_credential>(body, read_credential);
}

result<norman_credential> parse_docker_credential(std::string_view body) {
    return parse_resource<norman_credential>(body, read_credential);
}

bool is_norman_discovery_answer(int http_status, std::string_view body) {
    boost::system::error_code ec;
    json::value const root = json::parse(body.substr(0, 4 * 1024 * 1024), ec);
    if (ec || !root.is_object()) return false;
    auto const& fields = root.get_object();
    auto const* type = fields.if_contains("type");
    if (type == nullptr || !type->is_string()) return false;
    if (http_status == 200) return type->get_string() == "collection";
    if (http_status == 401) {
        auto const* status = fields.if_contains("status");
        return type->get_string() == "error" && status != nullptr && status->is_string() && status->get_string() == "401";
    }
    return false;
}

bool is_dns1123_subdomain(std::string_view name) { return dns1123(name, 253, true); }

bool is_dns1123_label(std::string_view name) { return dns1123(name, 63, false); }

std::string default_credential_name(std::string_view registry_host) {
    // <account>.dkr.ecr.<region>.amazonaws.com[.cn]
    auto const host = registry_host_of(registry_host);
    auto const marker = host.find(".dkr.ecr.");
    if (marker != std::string::npos) {
        auto const region_start = marker + 9;
        auto const region_end = host.find('.', region_start);
        auto name = "ecr-" + host.substr(0, marker) + "-" + host.substr(region_start, region_end - region_start);
        if (is_dns1123_subdomain(name)) return name;
    }
    std::string name = "ecr-";
    for (char c : host) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
    while (name.size() > 253 || name.back() == '-') name.pop_back();
    return name;
}

norman_plan plan_norman_writes(std::span<norman_credential const> listed, std::span<std::string const> fresh_hosts,
                               bool auto_create, std::optional<std::string> const& credential_name) {
    auto fresh = [&](std::string const& host) { return std::ranges::find(fresh_hosts, host) != fresh_hosts.end(); };
    norman_plan plan;
    std::vector<std::string> held;  // fresh hosts some credential holds, written or refused
    for (auto const& credential : listed) {
        std::vector<std::string> hosts;
        std::string foreign;
        for (auto const& key : credential.registries) {
            auto host = registry_host_of(key);
            if (fresh(host)) {
                if (std::ranges::find(hosts, host) == hosts.end()) hosts.push_back(std::move(host));
            } else if (foreign.empty()) {
                foreign = host.empty() ? key : host;
            }
        }
        if (hosts.empty()) continue;
        held.insert(held.end(), hosts.begin(), hosts.end());
        if (foreign.empty()) plan.updates.push_back({credential, std::move(hosts)});
        else plan.left_alone.push_back({credential, std::move(foreign), std::move(hosts)});
    }
    std::vector<std::string> unheld;
    for (auto const& host : fresh_hosts)
        if (std::ranges::find(held, host) == held.end() && std::ranges::find(unheld, host) == unheld.end())
            unheld.push_back(host);
    if (!auto_create) {
        plan.missing = std::move(unheld);
    } else if (!unheld.empty() && credential_name) {
        plan.creates.push_back({*credential_name, std::move(unheld)});
    } else {
        for (auto& host : unheld) plan.creates.push_back({default_credential_name(host), {std::move(host)}});
    }
    return plan;
}

std::string docker_credential_update_body(std::span<std::pair<std::string, std::string> const> host_passwords,
                                          std::string_view username) {
    return R"({"registries":)" + registries_json(host_passwords, username) + "}";
}

std::string docker_credential_create_body(std::string_view name, std::optional<std::string> const& namespace_id,
                                          std::span<std::pair<std::string, std::string> const> host_passwords,
                                          std::string_view username) {
    json::object body;
    body["type"] = namespace_id ? "namespacedDockerCredential" : "dockerCredential";
    body["name"] = name;
    if (namespace_id) body["namespaceId"] = *namespace_id;
    auto text = json::serialize(body);
    text.pop_back();  // '}'
    return text + R"(,"registries":)" + registries_json(host_passwords, username) + "}";
}

failure parse_norman_error(int http_status, std::string_view body, std::string_view operation) {
    failure out = parse_rancher_error_answer(http_status, body, operation);
    if (auto hint = norman_hint(http_status, out.code); !hint.empty()) {
        out.message += "; ";
        out.message += hint;
    }
    return out;
}

}  // namespace rancher_ecr
