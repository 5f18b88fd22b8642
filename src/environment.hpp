#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rancher_ecr {

// Looks up one environment variable; nullopt when it is not set. Configuration
// code takes this instead of calling getenv so that tests can pass a map.
using environment = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (getenv).
environment process_environment();

// The value of variable `name`; nullopt when it is unset or empty. Empty counts as unset, as
// orchestrators often define a variable with no value rather than leave it out.
std::optional<std::string> read_variable(environment const& env, std::string_view name);

// A fixed environment, for tests.
environment environment_from(std::map<std::string, std::string, std::less<>> variables);

}  // namespace rancher_ecr
