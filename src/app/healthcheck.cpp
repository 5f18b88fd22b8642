#include "app/healthcheck.hpp"

#include <cstddef>
#include <cstdio>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "net/https_client.hpp"

namespace rancher_ecr {

namespace {

// The service's own /healthz answer, read whole: about 700 bytes a target, so the client's
// default bound (8 MiB) would fail a healthy service of some 12,000 targets.
constexpr std::size_t max_health_answer_bytes = 64 * 1024 * 1024;

}  // namespace

int run_healthcheck(service_config const& config) {
    auto host = config.listen_address;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    auto target = parse_url("http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                            std::to_string(config.listen_port) + "/healthz");
    if (!target) {
        std::fprintf(stderr, "healthcheck failed: %s\n", target.error().message.c_str());
        return 1;
    }
    boost::asio::io_context context;
    https_client_options options;
    options.connect_timeout = std::chrono::seconds{2};
    options.request_timeout = std::chrono::seconds{2};
    options.max_response_bytes = max_health_answer_bytes;
    https_client client{context.get_executor(), options};
    int exit_code = 1;
    http_request request;
    request.target = target->target;
    boost::asio::co_spawn(context, client.send(*target, request), [&](std::exception_ptr error, result<http_response> answer) {
        if (error) std::rethrow_exception(error);
        if (!answer) {
            std::fprintf(stderr, "healthcheck failed: %s\n", answer.error().message.c_str());
            return;
        }
        std::fputs(answer->body.c_str(), stdout);
        exit_code = answer->status == 200 ? 0 : 1;
    });
    context.run();
    return exit_code;
}

}  // namespace rancher_ecr
