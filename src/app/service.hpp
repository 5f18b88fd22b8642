#pragma once

#include "app/aws_setup.hpp"
#include "app/config.hpp"

namespace rancher_ecr {

// Runs the service on one io_context: first the AWS side (the region if the configuration has
// none, then the first credentials, logging their provider; see set_up_aws), then a refresh task
// per target (one per AWS_ECR_REGISTRY_IDS entry, or one for the caller's own registry), each
// asking the cached credentials before its ECR call, the /healthz and /metrics server, and
// SIGTERM / SIGINT handling. Returns the process exit code: 0 after a signal, 2 when no region or
// no credentials can be had at start or the server cannot listen. Throws only on bugs.
int run_service(service_config const& config, aws_settings const& aws);

// The same start, then one refresh of every target, then returns: 0 when every token was written,
// 1 otherwise, 2 when no region or no credentials can be had.
int run_once(service_config const& config, aws_settings const& aws);

}  // namespace rancher_ecr
