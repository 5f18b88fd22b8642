// The targets file (app/targets_file): any text, YAML or not, gives targets or one clear failure:
// never a crash, a hang or a message with a control character, a secret or more than one line.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "app/targets_file.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace rancher_ecr;

constexpr std::string_view secret = "fuzz-secret-Zq9";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view text{reinterpret_cast<char const*>(data), size};
    service_config process;
    process.region = "eu-west-1";
    auto env = environment_from({{"RANCHER_SECRET", std::string{secret}}, {"OTHER", "x"}});
    auto parsed = parse_targets(text, "targets.yaml", process, env);
    if (!parsed) {
        auto const& message = parsed.error().message;
        FUZZ_CHECK(message.starts_with("targets.yaml:"), message);
        FUZZ_CHECK(rancher_ecr::fuzz::no_control_characters(message), message);
        // The secret comes from a variable; a file that spells it out itself (the fuzzer learns it
        // from the comparisons) may see it quoted back as any other value.
        FUZZ_CHECK(rancher_ecr::fuzz::contains(text, secret) || !rancher_ecr::fuzz::contains(message, secret),
                   message);
        FUZZ_CHECK(parsed.error().kind == failure_kind::config, message);
        return 0;
    }
    for (auto const& target : *parsed) {
        FUZZ_CHECK(is_target_name(target.name), target.name);
        FUZZ_CHECK(target.registry_ids.size() <= 10, target.name);
        FUZZ_CHECK(!target.secret_key.file.empty() || !target.secret_key.variable.empty(), target.name);
        FUZZ_CHECK(target.rancher_api || !target.expansion.any(), target.name);
    }
    return 0;
}
