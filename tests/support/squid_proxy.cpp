#include "support/squid_proxy.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "net/url.hpp"

namespace rancher_ecr::testing {

namespace {

std::string file_text(std::string const& path) {
    std::ifstream in{path};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// A crypt(3) hash of `password` for basic_ncsa_auth's password file.
std::string password_hash(std::string const& password) {
    auto hashed = run_command(
        {"python3", "-W", "ignore", "-c",
         "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_SHA512)))", password},
        {{"PATH", "/usr/bin:/bin"}});
    if (hashed.exit_code != 0 || !hashed.output.starts_with("$6$"))
        throw std::runtime_error("hashing the proxy password failed: " + hashed.output);
    return hashed.output.substr(0, hashed.output.find('\n'));
}

}  // namespace

squid_proxy::squid_proxy(options settings)
    : access_log_{(directory_.path() / "access.log").string()}, cache_log_{(directory_.path() / "cache.log").string()} {
    using namespace std::chrono_literals;
    // Squid started as root works as the user `proxy`: its logs go into a directory that user can write.
    std::filesystem::permissions(directory_.path(), std::filesystem::perms::all);
    std::string authentication;
    if (!settings.user.empty()) {
        auto passwords = directory_.write("passwords", settings.user + ":" + password_hash(settings.password) + "\n");
        using std::filesystem::perms;
        std::filesystem::permissions(passwords,
                                     perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
        authentication = "auth_param basic program /usr/lib/squid/basic_ncsa_auth " + passwords +
                         "\nauth_param basic children 2 startup=1\nauth_param basic realm tests\n"
                         "acl authenticated proxy_auth REQUIRED\nhttp_access allow loopback authenticated\n";
    } else {
        authentication = "http_access allow loopback\n";
    }
    // A free port is free only a moment ago: a start that loses the race is tried on another one.
    for (int attempt = 0; attempt < 5 && !process_; ++attempt) {
        port_ = settings.port != 0 ? settings.port : free_tcp_port();
        auto const dir = directory_.path().string();
        std::string config = "http_port 127.0.0.1:" + std::to_string(port_) + "\npid_filename " + dir +
                             "/squid.pid\naccess_log stdio:" + access_log_ + " logformat=squid\ncache_log " +
                             cache_log_ + "\ncache_store_log none\ncache deny all\ncache_mem 4 MB\ncoredump_dir " +
                             dir +
                             "\nshutdown_lifetime 0 seconds\nbuffered_logs off\nvia off\nstrip_query_terms off\n"
                             "acl loopback src 127.0.0.1/32\n" + authentication + "http_access deny all\n";
        auto config_file = directory_.write("squid.conf", config);
        std::filesystem::remove(cache_log_);
        auto process =
            std::make_unique<child_process>(std::vector<std::string>{"squid", "-N", "-f", config_file});
        auto const until = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < until) {
            if (file_text(cache_log_).find("Accepting HTTP Socket connections") != std::string::npos) {
                process_ = std::move(process);
                break;
            }
            if (process->wait(20ms)) break;  // it exited: the port was taken, or the configuration refused
        }
        if (!process_ && settings.port != 0) break;
    }
    if (!process_) throw std::runtime_error("squid did not start; its log:\n" + log());
}

// Squid takes two seconds to stop on SIGTERM, even with shutdown_lifetime 0: a test proxy has nothing
// to finish, so it is killed (its helpers end with their input).
squid_proxy::~squid_proxy() {
    if (process_) process_->signal(SIGKILL);
}

std::string squid_proxy::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string squid_proxy::url_with(std::string const& user, std::string const& password) const {
    return "http://" + percent_encode(user) + ":" + percent_encode(password) + "@127.0.0.1:" +
           std::to_string(port_);
}

std::vector<std::string> squid_proxy::requests() const {
    // 1796195603.119  2 127.0.0.1 TCP_MISS/503 3426 GET http://127.0.0.1:1/ proxy-user HIER_DIRECT/127.0.0.1 text/html
    std::vector<std::string> lines;
    std::istringstream in{file_text(access_log_)};
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields{line};
        std::string time, elapsed, client, code, bytes, method, where;
        if (!(fields >> time >> elapsed >> client >> code >> bytes >> method >> where)) continue;
        lines.push_back(method + " " + where + " " + code.substr(code.find('/') + 1));
    }
    return lines;
}

std::string squid_proxy::log() const {
    return "access.log:\n" + file_text(access_log_) + "cache.log:\n" + file_text(cache_log_);
}

}  // namespace rancher_ecr::testing
