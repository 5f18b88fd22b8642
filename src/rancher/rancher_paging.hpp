#pragma once

#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <spdlog/spdlog.h>

#include "error.hpp"
#include "net/url.hpp"
#include "rancher/rancher_api.hpp"
#include "rancher/rancher_url.hpp"

namespace rancher_ecr {

// A server whose pagination never ends (a proxy replaying the same `next`) must not keep us busy.
inline constexpr int max_rancher_pages = 1000;

// Every page of a collection, starting at `first`, following pagination.next on `base`'s origin
// (resolve_rancher_link). `get` sends a GET and turns a non-2xx answer into the Rancher error;
// `parse` reads one page (`items`, `next`, and for Cattle `removed_rows`). Fails on the first
// failure, or when a page repeats or there are over max_rancher_pages.
template <class Page, class Get>
boost::asio::awaitable<result<decltype(Page::items)>> list_every_page(Get get, url const base, url first,
                                                                      result<Page> (*parse)(std::string_view)) {
    decltype(Page::items) rows;
    std::size_t removed = 0;
    std::set<std::string> seen;
    url next = first;
    int page_number = 0;
    for (;; ++page_number) {
        auto const operation = operation_of("GET", next);
        if (page_number == max_rancher_pages || !seen.insert(next.target).second)
            co_return make_failure(failure_kind::bad_response,
                                   operation + ": the pagination does not end (a page repeats or there are over " +
                                       std::to_string(max_rancher_pages) + " pages)");
        auto response = co_await get(next);
        if (!response) co_return response.error();
        auto page = parse(response->body);
        if (!page) co_return in_operation(page.error(), operation, response->status);
        if constexpr (requires { page->removed_rows; }) removed += page->removed_rows;
        std::move(page->items.begin(), page->items.end(), std::back_inserter(rows));
        if (!page->next) break;
        auto following = resolve_rancher_link(base, *page->next);
        if (!following) co_return in_operation(following.error(), operation, response->status);
        next = std::move(*following);
    }
    spdlog::trace("Rancher: {} rows in {} pages from {} ({} removed rows skipped)", rows.size(), page_number + 1,
                  first.target, removed);
    co_return rows;
}

}  // namespace rancher_ecr
