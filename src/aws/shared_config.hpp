#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "environment.hpp"
#include "error.hpp"

namespace rancher_ecr {

// The keys of one section, names in lower case, values trimmed.
using ini_section = std::map<std::string, std::string, std::less<>>;
// Every section of one file, by its name as written between the brackets (trimmed).
using ini_sections = std::map<std::string, ini_section, std::less<>>;

// Parses the INI dialect of ~/.aws/config and ~/.aws/credentials: `[section]` lines, `key = value`
// (or `key=value`) lines, comments on their own line starting with '#' or ';', and a '#' or ';'
// after whitespace ending a value. Indented lines continue the key before them (botocore's nested
// `s3 =` settings) and are skipped, as are lines outside a section and lines without '='. A section
// or key seen twice is merged, the later value winning. Pure; never fails.
ini_sections parse_ini(std::string_view text);

// The profiles of both shared files, merged as botocore merges them.
struct shared_profiles {
    // Profile name -> its keys. From the config file: `[default]` and `[profile name]` (a bare
    // `[name]` there is not a profile and is ignored); from the credentials file: `[name]`, whose keys
    // win over the config file's.
    std::map<std::string, ini_section, std::less<>> profiles;
    std::string config_file;       // the paths the profiles were read from ("" when not known: no HOME)
    std::string credentials_file;
    // The selected profile: AWS_DEFAULT_PROFILE, else AWS_PROFILE (botocore's order), else "default".
    std::string selected;
    bool selected_explicitly = false;  // named by one of those variables

    ini_section const* find(std::string_view name) const;
    // The selected profile's `region`, if it has one.
    std::optional<std::string> region() const;
    // "/root/.aws/credentials or /root/.aws/config", for messages.
    std::string where() const;
};

// Merges the two files' sections into profiles (see shared_profiles::profiles). Pure.
std::map<std::string, ini_section, std::less<>> merge_profiles(ini_sections const& config_file,
                                                               ini_sections const& credentials_file);

// Reads AWS_CONFIG_FILE (default ~/.aws/config) and AWS_SHARED_CREDENTIALS_FILE (default
// ~/.aws/credentials), `~/` expanded from HOME, and selects the profile. A file that does not exist
// counts as empty, as in the AWS SDKs; one that exists but cannot be read is a config failure naming it.
result<shared_profiles> load_shared_profiles(environment const& env);

}  // namespace rancher_ecr
