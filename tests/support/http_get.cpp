#include "support/http_get.hpp"

#include <boost/asio/io_context.hpp>

#include "net/https_client.hpp"
#include "net/url.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr::testing {

std::optional<http_response> http_get(std::string const& address, std::chrono::seconds request_timeout,
                                      std::vector<http_header> headers) {
    boost::asio::io_context context;
    https_client_options options;
    options.connect_timeout = std::chrono::seconds{2};
    options.request_timeout = request_timeout;
    https_client client{context.get_executor(), options};
    auto where = *parse_url(address);
    http_request request;
    request.target = where.target;
    request.headers = std::move(headers);
    auto response = run_with_deadline(context, client.send(where, request), std::chrono::seconds{10});
    if (!response) return std::nullopt;
    return *response;
}

}  // namespace rancher_ecr::testing
