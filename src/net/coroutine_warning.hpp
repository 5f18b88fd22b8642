#pragma once

// Included by the files whose coroutines GCC 12 warns about: it flags Asio's coroutine frames
// (allocated by aligned_new, freed through the frame's sized operator delete) as a mismatched pair
// once both are inlined into a coroutine. A false positive,
// https://gcc.gnu.org/bugzilla/show_bug.cgi?id=109224, https://github.com/chriskohlhoff/asio/issues/1391.
// Silenced for the rest of the including file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
