// The AWS shared files (~/.aws/config, ~/.aws/credentials): parse_ini and merge_profiles.
// The input is the config file, and after its first NUL byte the credentials file (without
// one, the same text is both).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aws/shared_config.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace rancher_ecr;

bool trimmed(std::string_view text) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    return text.empty() || (!blank(text.front()) && !blank(text.back()));
}

// The sections written back as an INI file, in the simplest form.
std::string written(ini_sections const& sections) {
    std::string out;
    for (auto const& [name, keys] : sections) {
        out += "[" + name + "]\n";
        for (auto const& [key, value] : keys) out += key + " = " + value + "\n";
    }
    return out;
}

void check_sections(ini_sections const& sections, std::string_view text) {
    for (auto const& [name, keys] : sections) {
        FUZZ_CHECK(trimmed(name), name);
        FUZZ_CHECK(name.find_first_of("]\n") == std::string::npos, name);
        for (auto const& [key, value] : keys) {
            FUZZ_CHECK(!key.empty() && trimmed(key), key);
            FUZZ_CHECK(key.find_first_of("=\n") == std::string::npos, key);
            for (char c : key) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), key);
            FUZZ_CHECK(key.front() != '#' && key.front() != ';' && key.front() != '[', key);
            FUZZ_CHECK(trimmed(value), value);
            FUZZ_CHECK(value.find('\n') == std::string::npos, value);
        }
    }
    // What it read, written back and read again, is what it read.
    auto const again = parse_ini(written(sections));
    FUZZ_CHECK(again == sections, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const input{reinterpret_cast<char const*>(data), size};
    auto const split = input.find('\0');
    auto const config_text = input.substr(0, split);
    auto const credentials_text = split == std::string_view::npos ? input : input.substr(split + 1);

    auto const config = parse_ini(config_text);
    check_sections(config, config_text);
    auto const credentials = parse_ini(credentials_text);
    check_sections(credentials, credentials_text);

    auto const profiles = merge_profiles(config, credentials);
    // Every section of the credentials file is a profile, with its keys as written there.
    for (auto const& [name, keys] : credentials) {
        if (keys.empty()) continue;
        auto const found = profiles.find(name);
        FUZZ_CHECK(found != profiles.end(), name);
        for (auto const& [key, value] : keys) {
            auto const it = found->second.find(key);
            FUZZ_CHECK(it != found->second.end() && it->second == value, key);
        }
    }
    // A profile holds keys; one without a name comes from the credentials file's "[]" alone.
    for (auto const& [name, keys] : profiles) {
        FUZZ_CHECK(!keys.empty(), name);
        if (name.empty()) FUZZ_CHECK(credentials.contains(""), name);
    }
    return 0;
}
