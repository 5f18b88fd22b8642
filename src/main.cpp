// rancher-ecr-credentials: reads the configuration, builds the parts, runs one io_context.
#include <cstdio>
#include <exception>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "app/config.hpp"
#include "app/token_fetch.hpp"
#include "aws/credentials.hpp"
#include "obs/logging.hpp"
#include "version.hpp"

namespace {

constexpr int exit_failure = 1;
constexpr int exit_bad_configuration = 2;

int configuration_error(rancher_ecr::failure const& problem) {
    std::fprintf(stderr, "rancher-ecr-credentials: %s\n", problem.message.c_str());
    return exit_bad_configuration;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rancher_ecr;
    auto command = parse_command_line(argc, argv);
    if (!command) return configuration_error(command.error());
    switch (command->mode) {
        case run_mode::help: std::fputs(usage_text().c_str(), stdout); return 0;
        case run_mode::version: std::puts("rancher-ecr-credentials " RANCHER_ECR_CREDENTIALS_VERSION); return 0;
        case run_mode::run:
        case run_mode::healthcheck:
            return configuration_error(make_failure(
                failure_kind::config,
                "this version can only fetch ECR tokens (--once); the Rancher sync, the refresh schedule, "
                "/healthz and the healthcheck command are not built yet"));
        case run_mode::once: break;
    }

    auto env = process_environment();
    auto config = load_config(env);
    if (!config) return configuration_error(config.error());
    auto credentials = credentials_from_environment(env);
    if (!credentials) return configuration_error(credentials.error());
    if (!*credentials)
        return configuration_error(make_failure(
            failure_kind::config, "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                                  "(and AWS_SESSION_TOKEN for temporary credentials)"));

    configure_logging(config->level, config->format);
    try {
        boost::asio::io_context context;
        bool fetched = false;
        boost::asio::co_spawn(context, fetch_tokens_once(*config, **credentials),
                              [&](std::exception_ptr error, bool ok) {
                                  if (error) std::rethrow_exception(error);
                                  fetched = ok;
                              });
        context.run();
        return fetched ? 0 : exit_failure;
    } catch (std::exception const& e) {
        spdlog::critical("rancher-ecr-credentials stopped: {}", e.what());
        return exit_failure;
    }
}
