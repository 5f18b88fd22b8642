#include "rancher/rancher_resources.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include <boost/json.hpp>

#include "ascii_text.hpp"
#include "peer_text.hpp"
#include "rancher/rancher_api.hpp"

namespace rancher_ecr {
namespace {

namespace json = boost::json;

failure malformed(std::string_view what, std::string_view detail) {
    return make_failure(failure_kind::bad_response,
                        "malformed Rancher " + std::string{what} + ": " + std::string{detail});
}

// The state of a row, whether it is removed, and its id when it is not.
struct row_head {
    std::string id;
    std::string state;
    bool removed = false;
};

result<row_head> read_head(rancher_row const& reader) {
    row_head head;
    auto state = reader.string_or_empty("state");
    if (!state) return state.error();
    head.state = std::move(*state);
    head.removed = is_removed_row(head.state, reader.is_set("removed"));
    if (head.removed) return head;  // skipped whatever else it holds
    auto id = reader.required_string("id");
    if (!id) return id.error();
    head.id = std::move(*id);
    return head;
}

result<rancher_registry> read_registry(rancher_row const& reader, row_head head) {
    rancher_registry out{std::move(head.id), std::move(head.state), {}, {}};
    auto address = reader.string_or_empty("serverAddress");
    if (!address) return address.error();
    out.server_address = std::move(*address);
    auto self = reader.link("self");
    if (!self) return self.error();
    if (self->empty()) return reader.missing("links.self");
    out.self_link = std::move(*self);
    return out;
}

result<rancher_credential> read_credential(rancher_row const& reader, row_head head) {
    rancher_credential out{std::move(head.id), std::move(head.state), {}, {}, head.removed};
    auto registry = reader.string_or_empty("registryId");
    if (!registry) return registry.error();
    out.registry_id = std::move(*registry);
    auto self = reader.link("self");
    if (!self) return self.error();
    if (self->empty()) return reader.missing("links.self");
    out.self_link = std::move(*self);
    return out;
}

result<rancher_environment> read_environment(rancher_row const& reader, row_head head) {
    rancher_environment out{std::move(head.id), {}};
    auto name = reader.string_or_empty("name");
    if (!name) return name.error();
    out.name = std::move(*name);
    return out;
}

template <class T>
using row_parser = result<T> (*)(rancher_row const&, row_head);

template <class T>
result<rancher_page<T>> parse_page(std::string_view body, row_parser<T> parse_row) {
    answer_arena arena;
    auto root = parse_rancher_object(body, "collection", arena);
    if (!root) return root.error();
    json::value const* data = root->if_contains("data");
    if (data == nullptr) return malformed("collection", "data is missing (not a collection?)");
    if (!data->is_array()) return malformed("collection", "data: expected an array, got " + std::string{json_kind_name(data->kind())});

    rancher_page<T> page;
    auto const& rows = data->get_array();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        std::string where = "data[" + std::to_string(i) + "]";
        if (!rows[i].is_object())
            return malformed("collection", where + ": expected an object, got " + std::string{json_kind_name(rows[i].kind())});
        rancher_row reader{rows[i].get_object(), std::move(where)};
        auto head = read_head(reader);
        if (!head) return head.error();
        if (head->removed) {
            ++page.removed_rows;
            continue;
        }
        auto row = parse_row(reader, std::move(*head));
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
    rancher_row reader{*root, "resource"};
    auto head = read_head(reader);
    if (!head) return head.error();
    return parse_row(reader, std::move(*head));
}

std::string credential_fields(json::object body, std::string_view username, std::string_view password) {
    body["publicValue"] = username;
    body["secretValue"] = password;
    body["email"] = rancher_placeholder_email;
    return json::serialize(body);
}

std::string_view operator_hint(int http_status, std::string_view code) {
    switch (http_status) {
        case 401: return "check CATTLE_ACCESS_KEY and CATTLE_SECRET_KEY";
        case 403: return "the API key has no access to this environment; use an environment API key";
        case 404: return "check CATTLE_URL (its path and project id)";
        default: break;
    }
    if (code == "ServerAddressUsed") return "a registry with this server address already exists";
    return {};
}

std::string id_of(json::object const& fields, std::string_view name) {
    json::value const* value = fields.if_contains(name);
    if (value == nullptr || !value->is_string()) return {};
    return sanitised_excerpt(value->get_string(), 300);
}

// Rancher ids are "1" + type prefix + number: compare the numbers, not the text ("1sp9" < "1sp12").
bool lower_id(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return a.size() < b.size();
    return a < b;
}

}  // namespace

result<json::object> parse_rancher_object(std::string_view body, std::string_view what, answer_arena& arena) {
    if (body.empty()) return malformed(what, "the body is empty");
    boost::system::error_code ec;
    json::value root = json::parse(body, ec, json::storage_ptr{&arena.resource});
    // The parser's message names the problem ("incomplete JSON"), not the input.
    if (ec) return malformed(what, "not valid JSON (" + ec.message() + ")");
    if (!root.is_object()) return malformed(what, "expected a JSON object, got " + std::string{json_kind_name(root.kind())});
    return std::move(root.get_object());
}

bool is_removed_row(std::string_view state, bool removed_is_set) {
    static constexpr std::array<std::string_view, 4> gone{"removing", "removed", "purging", "purged"};
    return removed_is_set || std::ranges::find(gone, state) != gone.end();
}

result<rancher_page<rancher_registry>> parse_registry_page(std::string_view body) {
    return parse_page<rancher_registry>(body, read_registry);
}

result<rancher_page<rancher_credential>> parse_credential_page(std::string_view body) {
    return parse_page<rancher_credential>(body, read_credential);
}

result<rancher_page<rancher_environment>> parse_environment_page(std::string_view body) {
    return parse_page<rancher_environment>(body, read_environment);
}

result<rancher_registry> parse_registry(std::string_view body) { return parse_resource<rancher_registry>(body, read_registry); }

result<rancher_credential> parse_credential(std::string_view body) {
    return parse_resource<rancher_credential>(body, read_credential);
}

result<rancher_collections> parse_schemas(std::string_view body) {
    answer_arena arena;
    auto root = parse_rancher_object(body, "schemas answer", arena);
    if (!root) return root.error();
    json::value const* data = root->if_contains("data");
    if (data == nullptr || !data->is_array()) return malformed("schemas answer", "data is missing or not an array");

    // Type names are case-insensitive in Cattle paths; match the ids the same way.
    auto collection_of = [&](std::string_view type) -> std::string {
        for (auto const& schema : data->get_array()) {
            if (!schema.is_object()) continue;
            auto const& fields = schema.get_object();
            json::value const* id = fields.if_contains("id");
            if (id == nullptr || !id->is_string() || lower(id->get_string()) != lower(type)) continue;
            json::value const* links = fields.if_contains("links");
            if (links == nullptr || !links->is_object()) return {};
            json::value const* collection = links->get_object().if_contains("collection");
            if (collection == nullptr || !collection->is_string()) return {};
            return std::string{collection->get_string()};
        }
        return {};
    };
    rancher_collections out{collection_of("registry"), collection_of("registryCredential")};
    for (auto [type, link] : {std::pair{"registry", &out.registries}, std::pair{"registryCredential", &out.credentials}}) {
        if (link->empty())
            return make_failure(failure_kind::bad_response,
                                std::string{"the Rancher API offers no '"} + type +
                                    "' collection to this key (is it an environment API key, and CATTLE_URL a "
                                    "Rancher 1.x API?)");
    }
    return out;
}

std::string registry_host_of(std::string_view server_address) {
    auto const first = server_address.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    server_address.remove_prefix(first);
    if (auto scheme = server_address.find("://"); scheme != std::string_view::npos)
        server_address.remove_prefix(scheme + 3);
    server_address = server_address.substr(0, server_address.find_first_of("/?# \t"));
    if (auto at = server_address.rfind('@'); at != std::string_view::npos) server_address.remove_prefix(at + 1);
    return lower(server_address);
}

bool server_address_matches(std::string_view server_address, std::string_view host) {
    auto const wanted = registry_host_of(host);
    return !wanted.empty() && registry_host_of(server_address) == wanted;
}

std::optional<rancher_registry> select_registry(std::span<rancher_registry const> registries, std::string_view host) {
    auto const wanted = registry_host_of(host);
    // Lower rank wins: (not exact, not active, id).
    auto rank = [&](rancher_registry const& r) { return std::pair{lower(r.server_address) != wanted, r.state != "active"}; };
    rancher_registry const* best = nullptr;
    for (auto const& candidate : registries) {
        if (!server_address_matches(candidate.server_address, wanted)) continue;
        if (best == nullptr || rank(candidate) < rank(*best) ||
            (rank(candidate) == rank(*best) && lower_id(candidate.id, best->id)))
            best = &candidate;
    }
    if (best == nullptr) return std::nullopt;
    return *best;
}

std::vector<rancher_credential> credentials_of(std::span<rancher_credential const> credentials,
                                               std::string_view registry_id) {
    std::vector<rancher_credential> out;
    for (auto const& credential : credentials)
        if (credential.registry_id == registry_id) out.push_back(credential);
    std::ranges::sort(out, [](auto const& a, auto const& b) { return lower_id(a.id, b.id); });
    return out;
}

bool older_credential(std::string_view a, std::string_view b) { return lower_id(a, b); }

registry_credential_plan plan_credential_writes(std::span<rancher_credential const> listed, std::string_view registry_id,
                                                std::span<std::string const> ours,
                                                std::optional<rancher_credential> const& created) {
    auto live = credentials_of(listed, registry_id);
    if (created && std::ranges::none_of(live, [&](auto const& c) { return c.id == created->id; })) {
        live.push_back(*created);  // a list that lags behind our own create must not hide it
        std::ranges::sort(live, [](auto const& a, auto const& b) { return lower_id(a.id, b.id); });
    }
    registry_credential_plan plan;
    if (live.empty()) {
        plan.create = true;
        return plan;
    }
    auto is_ours = [&](rancher_credential const& c) {
        return (created && c.id == created->id) || std::ranges::find(ours, c.id) != ours.end();
    };
    auto const& oldest = live.front();
    for (auto const& credential : live)
        if (&credential != &oldest && is_ours(credential)) plan.remove.push_back(credential);
    if (created) {
        // Ours holds the password already; a newer one is its creator's to remove (or, made by
        // someone else, written at the next refresh): writing it would only race its removal.
        if (oldest.id != created->id) plan.write.push_back(oldest);
    } else {
        for (auto const& credential : live)
            if (&credential == &oldest || !is_ours(credential)) plan.write.push_back(credential);
    }
    return plan;
}

removal_step next_removal_step(std::string_view state, bool removed) {
    if (is_removed_row(state, removed)) return removal_step::done;
    if (state == "active") return removal_step::deactivate;
    if (state == "inactive" || state == "requested" || state == "registering" || state.starts_with("updating-"))
        return removal_step::remove;
    return removal_step::wait;  // activating, deactivating, or a state this client does not know
}

std::string credential_update_body(std::string_view username, std::string_view password) {
    return credential_fields({}, username, password);
}

std::string credential_create_body(std::string_view registry_id, std::string_view username, std::string_view password) {
    json::object body;
    body["registryId"] = registry_id;
    return credential_fields(std::move(body), username, password);
}

std::string registry_create_body(std::string_view host) {
    json::object body;
    body["serverAddress"] = host;
    body["name"] = host;
    return json::serialize(body);
}

bool is_retryable_rancher_error(int http_status) { return http_status == 429 || (http_status >= 500 && http_status <= 599); }

failure registry_not_found(std::string_view host, std::string_view api) {
    failure out = make_failure(failure_kind::service, "no Rancher registry for " + std::string{host} + " at " +
                                                          std::string{api} + "; add one with server address " +
                                                          std::string{host} + ", or set AUTO_CREATE=true");
    out.refused = refusal::registry_not_found;
    return out;
}

failure parse_rancher_error(int http_status, std::string_view body, std::string_view operation) {
    failure out = parse_rancher_error_answer(http_status, body, operation);
    if (auto hint = operator_hint(http_status, out.code); !hint.empty()) {
        out.message += "; ";
        out.message += hint;
    }
    return out;
}

failure parse_rancher_error_answer(int http_status, std::string_view body, std::string_view operation) {
    failure out;
    out.kind = failure_kind::service;
    out.http_status = http_status;
    out.retryable = is_retryable_rancher_error(http_status);
    out.message = std::string{operation.empty() ? "Rancher request" : operation} + " failed: HTTP " +
                  std::to_string(http_status);

    // Bound the work on a hostile body; a real Cattle error is a few hundred bytes.
    std::string_view const bounded = body.substr(0, 64 * 1024);
    boost::system::error_code ec;
    json::value const root = json::parse(bounded, ec);
    auto const is_error_type = [](json::object const& fields) {
        auto const* type = fields.if_contains("type");
        return type != nullptr && type->is_string() && type->get_string() == "error";
    };
    // Rancher 2's answer to a request without a key has neither code nor field ({"type":"error",
    // "status":"401","message":...}, §2.1).
    if (!ec && root.is_object() &&
        (root.get_object().contains("code") || root.get_object().contains("fieldName") ||
         is_error_type(root.get_object()))) {
        auto const& fields = root.get_object();
        out.code = id_of(fields, "code");
        auto const field = id_of(fields, "fieldName");
        auto message = id_of(fields, "message");
        if (message.empty()) message = id_of(fields, "detail");
        if (!out.code.empty()) out.message += " " + out.code;
        if (!field.empty()) out.message += ", field " + field;
        // Status-only errors repeat the reason phrase as the message (§1.6).
        if (!message.empty() && message != out.code) out.message += ": " + message;
    } else if (auto excerpt = sanitised_excerpt(bounded, 200); !excerpt.empty()) {
        out.message += ", not a Rancher error: " + excerpt;
    }
    return out;
}

}  // namespace rancher_ecr
