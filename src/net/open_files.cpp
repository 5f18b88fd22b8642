#include "net/open_files.hpp"

#include <sys/resource.h>

namespace rancher_ecr {

std::string open_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return "RLIMIT_NOFILE unknown";
    if (limit.rlim_cur == RLIM_INFINITY) return "RLIMIT_NOFILE unlimited";
    return "RLIMIT_NOFILE " + std::to_string(limit.rlim_cur);
}

}  // namespace rancher_ecr
