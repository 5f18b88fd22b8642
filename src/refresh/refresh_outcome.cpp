#include "refresh/refresh_outcome.hpp"

namespace rancher_ecr {

std::string_view to_string(refresh_failure_reason reason) {
    switch (reason) {
        case refresh_failure_reason::ecr: return "ecr";
        case refresh_failure_reason::rancher: return "rancher";
        case refresh_failure_reason::registry_not_found: return "registry_not_found";
    }
    return "ecr";
}

}  // namespace rancher_ecr
