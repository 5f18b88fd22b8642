#include "support/ecr_recorder.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "net/https_client.hpp"
#include "support/run_with_deadline.hpp"

namespace rancher_ecr::testing {

namespace {

// The access key id of a SigV4 Authorization header ("... Credential=AKID/date/region/...").
std::string signing_key(http_request const& request) {
    auto authorization = std::string{request.header("authorization").value_or("")};
    auto start = authorization.find("Credential=");
    if (start == std::string::npos) return {};
    start += std::string_view{"Credential="}.size();
    return authorization.substr(start, authorization.find('/', start) - start);
}

}  // namespace

ecr_recorder::ecr_recorder(std::string const& target)
    : target_{*parse_url(target)}, server_{[this](http_request const& request) { return forward(request); }} {}

std::string ecr_recorder::endpoint() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

std::vector<ecr_recorder::call> ecr_recorder::calls() const {
    std::lock_guard lock{mutex_};
    return calls_;
}

int ecr_recorder::token_calls() const {
    std::lock_guard lock{mutex_};
    return static_cast<int>(
        std::ranges::count_if(calls_, [](call const& c) { return c.target.ends_with(".GetAuthorizationToken"); }));
}

scripted_answer ecr_recorder::forward(http_request const& request) {
    http_request copy;
    copy.method = request.method;
    copy.target = request.target;
    copy.body = request.body;
    for (auto const& header : request.headers)
        if (!iequals(header.name, "content-length") && !iequals(header.name, "connection"))
            copy.headers.push_back(header);
    boost::asio::io_context context;
    https_client client{context.get_executor(), {}};
    auto answer = run_with_deadline(context, client.send(target_, copy), std::chrono::seconds{20});
    {
        std::lock_guard lock{mutex_};
        calls_.push_back({signing_key(request), std::string{request.header("x-amz-target").value_or("")},
                          answer ? answer->status : 0});
    }
    if (!answer) return {scripted_answer::action::close, {}, {}};
    return {scripted_answer::action::respond, *answer, {}};
}

}  // namespace rancher_ecr::testing
