#pragma once

#include <string>

namespace rancher_ecr {

// The process's open-file limit, for a message about running out of file descriptors (EMFILE):
// "RLIMIT_NOFILE 1024", "RLIMIT_NOFILE unlimited" or "RLIMIT_NOFILE unknown".
std::string open_file_limit();

}  // namespace rancher_ecr
