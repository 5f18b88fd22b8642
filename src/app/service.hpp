#pragma once

#include "app/aws_setup.hpp"
#include "app/config.hpp"
#include "app/target_settings.hpp"

namespace rancher_ecr {

// Runs the service on one io_context: first the AWS side (the region if the configuration has
// none, then the first credentials, logging their provider; see set_up_aws), then a refresh task
// per target (targets_from_environment or the targets file), each on its own schedule, taking
// its tokens from the token cache its AWS identity, region and endpoint share, and the /healthz
// and /metrics server. With a targets file, SIGHUP re-reads it. `env` is read again for the
// targets' secret keys at every refresh.
//
// SIGTERM and SIGINT are handled from the first instant, the AWS start included: a signal stops
// the service at once when no refresh is under way, else when the refresh under way ends or after
// a grace of 0.7 s, whichever comes first; the log says which.
//
// Every top-level task (each refresh task, the probe server, the signal watch) runs under
// spawn_supervised: an exception it throws (a bug) is logged and the task starts again after a
// backoff of 1 s doubling to 5 minutes; a refresh task's target turns failing on /healthz (503)
// with the exception's message meanwhile.
//
// Returns the process exit code: 0 after a signal, 2 when no region or no credentials can be had
// at start or the server cannot listen. Throws only on bugs outside the supervised tasks.
int run_service(service_config const& config, aws_settings const& aws, std::vector<target_settings> const& targets,
                environment const& env);

// The same start, then one refresh of every target, then returns: 0 when every token was written,
// 1 otherwise or when SIGTERM or SIGINT interrupted it (with the same grace for a refresh under
// way), 2 when no region or no credentials can be had. An exception of the refresh (a bug) is not
// contained: it leaves the call, and main exits 1 after logging it.
int run_once(service_config const& config, aws_settings const& aws, std::vector<target_settings> const& targets,
             environment const& env);

}  // namespace rancher_ecr
