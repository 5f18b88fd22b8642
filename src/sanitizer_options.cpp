// Built into the binary only by sanitized builds (-Db_sanitize=..., scripts/build and scripts/test).
//
// The integration tests start the binary with an environment of their own, without the
// ASAN_OPTIONS and UBSAN_OPTIONS that scripts/test sets, and many of them stop it with
// SIGTERM without looking at how it ended. So the binary carries its options itself: every
// finding stops it (UBSan too: the code is built with -fno-sanitize-recover=all), with a stack,
// and the report goes to a file in SANITIZER_REPORT_DIR, where scripts/test finds it
// after the tests, whatever a test did with the binary's output. Variables that are set win over
// these defaults.
#ifndef SANITIZER_REPORT_DIR
#error "SANITIZER_REPORT_DIR must name the directory of the sanitizers' reports"
#endif

extern "C" {

// The runtimes look these up before main; they are called, never referred to.
char const* __asan_default_options();
char const* __ubsan_default_options();

char const* __asan_default_options() {
    return "detect_leaks=1:halt_on_error=1:strict_string_checks=1:check_initialization_order=1:"
           "strict_init_order=1:log_path=" SANITIZER_REPORT_DIR "/asan";
}

char const* __ubsan_default_options() {
    return "halt_on_error=1:print_stacktrace=1:log_path=" SANITIZER_REPORT_DIR "/ubsan";
}

}  // extern "C"
