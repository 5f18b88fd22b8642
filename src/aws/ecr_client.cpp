#include "aws/ecr_client.hpp"

#include <chrono>

#include "aws/sigv4.hpp"

namespace rancher_ecr {

ecr_client::ecr_client(http_transport& transport, std::string region, url endpoint)
    : transport_{transport}, region_{std::move(region)}, endpoint_{std::move(endpoint)} {}

boost::asio::awaitable<result<std::vector<ecr_authorization>>> ecr_client::get_authorization_tokens(
    aws_credentials const& credentials, std::vector<std::string> const& registry_ids) {
    http_request request;
    request.method = "POST";
    request.target = endpoint_.target;
    request.headers = {
        {"Host", endpoint_.authority()},
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"},
    };
    request.body = authorization_request_body(registry_ids);
    sign_request(request, credentials, region_, "ecr", std::chrono::system_clock::now());

    auto response = co_await transport_.send(endpoint_, std::move(request));
    if (!response) co_return response.error();
    auto const operation = "ECR GetAuthorizationToken at " + endpoint_.authority();
    if (response->status != 200) co_return parse_aws_error(response->status, response->body, operation);

    auto tokens = parse_authorization_response(response->body);
    if (!tokens) {
        auto problem = tokens.error();
        problem.message = operation + ": " + problem.message;
        problem.http_status = response->status;
        co_return problem;
    }
    co_return std::move(*tokens);
}

}  // namespace rancher_ecr
