#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rancher_ecr::testing {

using environment_variables = std::map<std::string, std::string>;

// A child process with pipes to its stdin and from its stdout and stderr (merged). The
// destructor closes stdin, sends SIGTERM and reaps it (SIGKILL after a grace period), so a
// stand-in dies with its test.
class child_process {
public:
    // `environment` replaces the child's whole environment when given; else it inherits ours.
    explicit child_process(std::vector<std::string> const& argv,
                           std::optional<environment_variables> const& environment = std::nullopt);
    ~child_process();
    child_process(child_process const&) = delete;
    child_process& operator=(child_process const&) = delete;

    // The next line of output, or nullopt at end of output or when none came within `timeout`.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    // Reads output until `text` appears in it (true) or `timeout` passes (false).
    bool wait_for_output(std::string const& text, std::chrono::milliseconds timeout);
    // Everything read so far.
    std::string const& output() const { return output_; }
    void signal(int signal_number) const;
    // The exit code (128 + signal when killed), with output() then read to the end, or nullopt if it
    // is still running after `timeout`.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    int pid() const { return pid_; }

private:
    bool read_some(std::chrono::steady_clock::time_point until);

    int pid_ = -1;
    int stdin_fd_ = -1;
    int stdout_fd_ = -1;
    std::string output_;
    std::size_t consumed_ = 0;  // of output_, by read_line
    std::optional<int> exit_code_;
};

struct command_result {
    int exit_code = -1;
    std::string output;  // stdout and stderr, interleaved
};

// Runs a command to completion with exactly `environment`; fails the test by throwing if it
// has not exited within `timeout`.
command_result run_command(std::vector<std::string> const& argv, environment_variables const& environment,
                           std::chrono::milliseconds timeout = std::chrono::seconds{30});

// A TCP port on 127.0.0.1 that was free a moment ago (for stand-ins that need a fixed port).
unsigned short free_tcp_port();

}  // namespace rancher_ecr::testing
