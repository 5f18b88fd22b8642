#include "support/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace rancher_ecr::testing {

namespace {

void check(bool ok, char const* what) {
    if (!ok) throw std::runtime_error(std::string{what} + ": " + std::strerror(errno));
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

child_process::child_process(std::vector<std::string> const& argv,
                             std::optional<environment_variables> const& environment) {
    int in[2];
    int out[2];
    check(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0, "pipe2");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out[1], 2);

    std::vector<char*> args;
    for (auto const& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_strings;
    std::vector<char*> env;
    if (environment) {
        for (auto const& [name, value] : *environment) env_strings.push_back(name + "=" + value);
        for (auto& e : env_strings) env.push_back(e.data());
        env.push_back(nullptr);
    }
    int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environment ? env.data() : environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_fd_ = in[1];
    stdout_fd_ = out[0];
    if (rc != 0) {
        errno = rc;
        check(false, ("cannot start " + argv.front()).c_str());
    }
}

child_process::~child_process() {
    if (stdin_fd_ >= 0) close(stdin_fd_);
    if (!exit_code_) {
        signal(SIGTERM);
        if (!wait(std::chrono::seconds{5})) {
            signal(SIGKILL);
            wait(std::chrono::seconds{5});
        }
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
}

bool child_process::read_some(std::chrono::steady_clock::time_point until) {
    if (stdout_fd_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd fd{stdout_fd_, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return false;
    char chunk[4096];
    auto n = read(stdout_fd_, chunk, sizeof chunk);
    if (n <= 0) {
        close(stdout_fd_);
        stdout_fd_ = -1;
        return false;
    }
    output_.append(chunk, static_cast<std::size_t>(n));
    return true;
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (auto end = output_.find('\n', consumed_); end != std::string::npos) {
            auto line = output_.substr(consumed_, end - consumed_);
            consumed_ = end + 1;
            return line;
        }
        if (!read_some(until)) return std::nullopt;
    }
}

bool child_process::wait_for_output(std::string const& text, std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (output_.find(text) == std::string::npos)
        if (!read_some(until)) return output_.find(text) != std::string::npos;
    return true;
}

void child_process::signal(int signal_number) const {
    if (pid_ > 0 && !exit_code_) kill(pid_, signal_number);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
    if (exit_code_) return exit_code_;
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_code_ = decode_status(status);
            // What the child wrote just before it exited may still sit in the pipe: read it to the
            // end, so that output() after wait() holds everything (bounded, should a descendant keep
            // the pipe open).
            auto const drained_by = std::chrono::steady_clock::now() + std::chrono::seconds{2};
            while (read_some(drained_by)) {
            }
            return exit_code_;
        }
        if (std::chrono::steady_clock::now() >= until) return std::nullopt;
        // Drain output meanwhile so that a chatty child never blocks on a full pipe.
        if (!read_some(std::chrono::steady_clock::now() + std::chrono::milliseconds{10}))
            std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
}

command_result run_command(std::vector<std::string> const& argv, environment_variables const& environment,
                           std::chrono::milliseconds timeout) {
    child_process child{argv, environment};
    auto code = child.wait(timeout);
    if (!code) throw std::runtime_error(argv.front() + " did not exit within its deadline");
    return {*code, child.output()};
}

unsigned short free_tcp_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    check(fd >= 0, "socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
              getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
    close(fd);
    check(ok, "bind to a free port");
    return ntohs(address.sin_port);
}

}  // namespace rancher_ecr::testing
