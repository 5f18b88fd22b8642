#include "obs/logging.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rancher_ecr {
namespace {

using namespace std::chrono_literals;

std::chrono::system_clock::time_point at(std::int64_t unix_ms) {
    return std::chrono::system_clock::time_point{std::chrono::milliseconds{unix_ms}};
}

TEST(format_utc, iso_8601_with_milliseconds) {
    EXPECT_EQ(format_utc(at(0)), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_utc(at(1738598491500)), "2025-02-03T16:01:31.500Z");
}

TEST(format_json_line, is_one_parseable_object_whatever_the_message) {
    std::string const message = "quote \" backslash \\ newline \n tab \t bell \a unicode \xc3\xa9 end";
    auto line = format_json_line(at(1738598491500), "warning", message);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto parsed = boost::json::parse(line).as_object();
    EXPECT_EQ(parsed.at("time").as_string(), "2025-02-03T16:01:31.500Z");
    EXPECT_EQ(parsed.at("level").as_string(), "warning");
    EXPECT_EQ(parsed.at("message").as_string(), message);
}

}  // namespace
}  // namespace rancher_ecr
