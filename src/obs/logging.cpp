#include "obs/logging.hpp"

#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace rancher_ecr {

namespace {

spdlog::level::level_enum to_spdlog(log_level level) {
    switch (level) {
        case log_level::trace: return spdlog::level::trace;
        case log_level::debug: return spdlog::level::debug;
        case log_level::info: return spdlog::level::info;
        case log_level::warn: return spdlog::level::warn;
        case log_level::error: return spdlog::level::err;
    }
    return spdlog::level::info;
}

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[16];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

class json_formatter final : public spdlog::formatter {
public:
    void format(spdlog::details::log_msg const& msg, spdlog::memory_buf_t& dest) override {
        auto level = spdlog::level::to_string_view(msg.level);
        auto line = format_json_line(msg.time, std::string_view{level.data(), level.size()},
                                     std::string_view{msg.payload.data(), msg.payload.size()});
        line += '\n';
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

}  // namespace

std::string format_utc(std::chrono::system_clock::time_point time) {
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
    std::time_t seconds = std::chrono::system_clock::to_time_t(time);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis < 0 ? 0 : millis));
    return text;
}

std::string format_json_line(std::chrono::system_clock::time_point time, std::string_view level,
                             std::string_view message) {
    std::string line;
    line.reserve(64 + message.size());
    line += R"({"time":")";
    line += format_utc(time);
    line += R"(","level":)";
    append_json_string(line, level);
    line += R"(,"message":)";
    append_json_string(line, message);
    line += '}';
    return line;
}

void configure_logging(log_level level, log_format format) {
    auto logger = std::make_shared<spdlog::logger>("rancher-ecr-credentials",
                                                   std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (format == log_format::json)
        logger->set_formatter(std::make_unique<json_formatter>());
    else
        logger->set_formatter(
            std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc));
    logger->set_level(to_spdlog(level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace rancher_ecr
