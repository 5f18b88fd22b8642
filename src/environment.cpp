#include "environment.hpp"

#include <cstdlib>

namespace rancher_ecr {

environment process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        std::string key{name};
        if (char const* value = std::getenv(key.c_str())) return std::string{value};
        return std::nullopt;
    };
}

std::optional<std::string> read_variable(environment const& env, std::string_view name) {
    auto value = env(name);
    if (!value || value->empty()) return std::nullopt;
    return value;
}

environment environment_from(std::map<std::string, std::string, std::less<>> variables) {
    return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
        if (auto it = variables.find(name); it != variables.end()) return it->second;
        return std::nullopt;
    };
}

}  // namespace rancher_ecr
