#pragma once

#include "app/config.hpp"

namespace rancher_ecr {

// Probes the running service's own /healthz (LISTEN_ADDRESS, or loopback when that is a
// wildcard, and LISTEN_PORT) within two seconds, for a container HEALTHCHECK that has no
// shell or curl. Prints the answer (read whole up to 64 MiB, some 90,000 targets); returns 0 on
// HTTP 200, 1 otherwise.
int run_healthcheck(service_config const& config);

}  // namespace rancher_ecr
