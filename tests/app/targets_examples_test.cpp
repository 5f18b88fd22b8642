// The commented targets file examples that ship in container/ (targets-rancher1.yaml and
// targets-rancher2.yaml) parse, with their secrets and CA bundle paths pointed at files made here.
// In the `examples` suite, not the unit suite: the image's build stage holds only src/ and tests/.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "app/targets_file.hpp"

namespace rancher_ecr {
namespace {

TEST(targets_examples, the_example_files_for_both_rancher_generations_parse) {
    auto const dir = ::testing::TempDir() + "targets_file_examples/";
    std::filesystem::create_directories(dir + "rancher");
    for (auto name : {"rancher-prod", "rancher/team-a", "rancher-ca.pem"}) std::ofstream{dir + name} << "x\n";
    std::map<std::string, std::string, std::less<>> variables{
        {"PARTNER_RANCHER_SECRET", "x"}, {"RANCHER_ALL_SECRET", "x"}, {"RANCHER_BATCH_SECRET", "x"}};
    service_config process;
    process.region = "eu-west-1";
    for (auto [file, count] : {std::pair{"targets-rancher1.yaml", 3u}, std::pair{"targets-rancher2.yaml", 3u}}) {
        std::ifstream in{std::string{TESTS_SOURCE_DIR} + "/../container/" + file};
        ASSERT_TRUE(in) << file;
        std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
        for (std::string from : {"/run/secrets/", "/etc/ecr/"})
            for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at))
                text.replace(at, from.size(), dir);
        auto parsed = parse_targets(text, file, process, environment_from(variables));
        ASSERT_TRUE(parsed.has_value()) << file << ": " << parsed.error().message;
        EXPECT_EQ(parsed->size(), count) << file;
    }
}

}  // namespace
}  // namespace rancher_ecr
