// rancher-ecr-credentials: reads the configuration, builds the parts, runs one io_context.
#include <cstdio>
#include <exception>

#include <spdlog/spdlog.h>

#include "app/aws_setup.hpp"
#include "app/config.hpp"
#include "app/healthcheck.hpp"
#include "app/service.hpp"
#include "app/target_settings.hpp"
#include "app/targets_file.hpp"
#include "obs/logging.hpp"
#include "version.hpp"

namespace {

constexpr int exit_failure = 1;
constexpr int exit_bad_configuration = 2;

int configuration_error(std::string const& message) {
    std::fprintf(stderr, "rancher-ecr-credentials: %s\n", message.c_str());
    return exit_bad_configuration;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rancher_ecr;
    auto command = parse_command_line(argc, argv);
    if (!command) return configuration_error(command.error().message);
    if (command->mode == run_mode::help) {
        std::fputs(usage_text().c_str(), stdout);
        return 0;
    }
    if (command->mode == run_mode::version) {
        std::puts("rancher-ecr-credentials " RANCHER_ECR_CREDENTIALS_VERSION);
        return 0;
    }

    auto env = process_environment();
    auto config = load_config(env);
    if (!config) return configuration_error(config.error().message);
    if (command->mode == run_mode::healthcheck) return run_healthcheck(*config);

    if (command->targets_file) config->targets_file = command->targets_file;
    std::vector<target_settings> targets;
    if (config->targets_file) {
        if (config->rancher_url)
            return configuration_error("CATTLE_URL and a targets file (TARGETS_FILE or --targets) are both given; "
                                       "unset CATTLE_URL and give every Rancher in the file, or drop the file");
        auto read = read_targets_file(*config->targets_file, *config, env);
        if (!read) return configuration_error(read.error().message);
        targets = std::move(*read);
        // The process's credentials need a region for STS: the first target's when none is set.
        if (config->region.empty())
            for (auto const& target : targets)
                if (!target.region.empty()) {
                    config->region = target.region;
                    break;
                }
    } else if (!config->rancher_url) {
        return configuration_error("CATTLE_URL is not set; set it to the Rancher API URL, e.g. "
                                   "CATTLE_URL=http://rancher:8080/v2-beta (Rancher sets it for containers labelled "
                                   "io.rancher.container.create_agent=true), or give a targets file (TARGETS_FILE)");
    } else {
        targets = targets_from_environment(*config);
    }
    // Where credentials come from (and the region's fallbacks), decided before anything runs.
    auto aws = read_aws_settings(env, *config);
    if (!aws) return configuration_error(aws.error().message);

    configure_logging(config->level, config->format);
    try {
        return command->mode == run_mode::once ? run_once(*config, *aws, targets, env)
                                                : run_service(*config, *aws, targets, env);
    } catch (std::exception const& e) {
        spdlog::critical("rancher-ecr-credentials stopped: {}", e.what());
        return exit_failure;
    }
}
