#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// What the fuzz targets share: a check that stops the run as a crash (libFuzzer keeps the input
// as crash-<sha1>), and tests on text that the contracts promise.
namespace rancher_ecr::fuzz {

[[noreturn]] inline void violated(char const* what, char const* file, int line, std::string_view detail) {
    std::fprintf(stderr, "%s:%d: invariant violated: %s\n  detail: %.*s\n", file, line, what,
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

// Printable ASCII only: what sanitised_excerpt and the config's quoting promise in a message.
inline bool printable_ascii(std::string_view text) {
    for (char c : text) {
        auto const byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte > 0x7e) return false;
    }
    return true;
}

// No control character (bytes above 0x7e may pass: a UTF-8 value may be quoted as it is).
inline bool no_control_characters(std::string_view text) {
    for (char c : text) {
        auto const byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) return false;
    }
    return true;
}

inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace rancher_ecr::fuzz

// CHECK(condition, detail): `detail` (a string_view) is printed with the condition when it fails.
#define FUZZ_CHECK(condition, detail)                                                       \
    do {                                                                                    \
        if (!(condition)) ::rancher_ecr::fuzz::violated(#condition, __FILE__, __LINE__, (detail)); \
    } while (false)
