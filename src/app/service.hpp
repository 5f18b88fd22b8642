#pragma once

#include "app/config.hpp"
#include "aws/credentials.hpp"

namespace rancher_ecr {

// Runs the service on one io_context: a refresh task per target (one per AWS_ECR_REGISTRY_IDS
// entry, or one for the caller's own registry), the /healthz and /metrics server, and SIGTERM /
// SIGINT handling. Returns the process exit code: 0 after a signal, 2 when the server cannot
// listen. Throws only on bugs.
int run_service(service_config const& config, aws_credentials const& credentials);

// One refresh of every target, then returns: 0 when every token was written, 1 otherwise.
int run_once(service_config const& config, aws_credentials const& credentials);

}  // namespace rancher_ecr
