#include "rancher/place_listing.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "net/coroutine_warning.hpp"
#include "net/http_message.hpp"
#include "rancher/norman_resources.hpp"
#include "rancher/rancher_api.hpp"
#include "rancher/rancher_paging.hpp"
#include "rancher/rancher_resources.hpp"

namespace rancher_ecr {

namespace asio = boost::asio;

namespace {

url under(url const& base, std::string_view path) {
    url target = base;
    target.target = base.target + std::string{path};
    return target;
}

// A GET with `authorization` that turns a non-2xx answer into the API's error (`error_of`: Cattle's
// or norman's parser).
auto authorized_get(http_transport& transport, std::string authorization,
                    failure (*error_of)(int, std::string_view, std::string_view)) {
    return [&transport, authorization = std::move(authorization), error_of](url const& page)
               -> asio::awaitable<result<http_response>> {
        auto response = co_await transport.send(page, rancher_request("GET", page, authorization));
        if (!response) co_return in_operation(response.error(), operation_of("GET", page));
        if (!succeeded(*response)) co_return error_of(response->status, response->body, operation_of("GET", page));
        co_return response;
    };
}

}  // namespace

asio::awaitable<result<std::vector<rancher_place>>> list_cattle_environments(http_transport& transport,
                                                                             url const& base,
                                                                             std::string const& access_key,
                                                                             std::string const& secret_key) {
    auto get = authorized_get(transport, basic_authorization(access_key, secret_key), parse_rancher_error);
    auto rows = co_await list_every_page(get, base, under(base, "/projects"), parse_environment_page);
    if (!rows) co_return rows.error();
    std::vector<rancher_place> places;
    places.reserve(rows->size());
    for (auto& row : *rows) places.push_back({row.id, row.name.empty() ? row.id : std::move(row.name)});
    co_return places;
}

asio::awaitable<result<std::vector<rancher_place>>> list_norman_projects(http_transport& transport, url const& api,
                                                                         std::string const& access_key,
                                                                         std::string const& secret_key) {
    auto get = authorized_get(transport, bearer_authorization(access_key, secret_key), parse_norman_error);
    auto projects = co_await list_every_page(get, api, under(api, "/projects"), parse_project_page);
    if (!projects) co_return projects.error();
    auto clusters = co_await list_every_page(get, api, under(api, "/clusters"), parse_cluster_page);
    if (!clusters) co_return clusters.error();
    std::map<std::string, std::string, std::less<>> cluster_names;
    for (auto const& cluster : *clusters) cluster_names[cluster.id] = cluster.name.empty() ? cluster.id : cluster.name;
    std::vector<rancher_place> places;
    places.reserve(projects->size());
    for (auto const& project : *projects) {
        auto cluster = cluster_names.find(project.cluster_id);
        auto const& cluster_name = cluster == cluster_names.end() ? project.cluster_id : cluster->second;
        places.push_back({project.id, cluster_name + "/" + project.name});
    }
    co_return places;
}

namespace {

bool is_plain_id(std::string_view id) {
    return !id.empty() && id.size() <= 128 && id != "." && id != ".." && std::ranges::all_of(id, [](unsigned char c) {
               return std::isalnum(c) || c == '-' || c == '_' || c == ':' || c == '.';
           });
}

std::string printable(std::string_view text, std::size_t limit) {
    std::string out;
    for (unsigned char c : text.substr(0, limit)) out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
    return out;
}

}  // namespace

std::string describe_missed_places(place_choice const& choice, std::string_view what, std::size_t listed) {
    auto quoted_list = [](std::vector<std::string> const& names) {
        std::string text;
        for (std::size_t i = 0; i < names.size() && i < 5; ++i) text += (i ? ", \"" : "\"") + names[i] + "\"";
        if (names.size() > 5) text += " and " + std::to_string(names.size() - 5) + " more";
        return text;
    };
    std::string message;
    if (!choice.not_found.empty())
        message = std::string{what} + "s: " + quoted_list(choice.not_found) + " named no " + std::string{what} +
                  " of the " + std::to_string(listed) + " the key sees; check the names or ids in the targets file";
    if (!choice.refused.empty())
        message += (message.empty() ? "" : "; ") + std::string{"Rancher listed "} + std::string{what} +
                   "s with ids that cannot stand in a request path, left out: " + quoted_list(choice.refused);
    return message;
}

place_choice choose_places(std::string_view target_name, std::span<rancher_place const> listed, bool all,
                           std::span<std::string const> wanted) {
    // A wanted entry names a place by its id or name; a 2.x name may come without its cluster:
    // "Default" matches "local/Default".
    auto names_place = [](std::string const& w, rancher_place const& place) {
        auto const slash = place.name.rfind('/');
        return w == place.id || w == place.name ||
               (slash != std::string::npos && std::string_view{place.name}.substr(slash + 1) == w);
    };
    place_choice choice;
    std::set<std::string, std::less<>> names;
    for (auto const& place : listed) {
        if (!all && std::ranges::none_of(wanted, [&](auto const& w) { return names_place(w, place); })) continue;
        if (!is_plain_id(place.id)) {
            choice.refused.push_back(printable(place.id, 64));
            continue;
        }
        auto name = std::string{target_name} + "/" + printable(place.name, 200);
        if (!names.insert(name).second) name = std::string{target_name} + "/" + place.id;  // two places of one name
        names.insert(name);
        choice.chosen.push_back({place, std::move(name)});
    }
    for (auto const& w : wanted)
        if (std::ranges::none_of(listed, [&](auto const& place) { return names_place(w, place); }))
            choice.not_found.push_back(printable(w, 200));
    return choice;
}

}  // namespace rancher_ecr
