#include "aws/shared_config.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "ascii_text.hpp"

namespace rancher_ecr {

namespace {

// A line's blanks, with the \r of a file written on Windows.
std::string_view trim_line(std::string_view line) { return trim(line, " \t\r"); }

// A '#' or ';' that follows a space or tab starts a comment; one inside a value (no space before
// it) does not, so that a URL fragment or an odd secret survives.
std::string_view strip_comment(std::string_view text) {
    for (std::size_t i = 1; i < text.size(); ++i) {
        if ((text[i] == '#' || text[i] == ';') && (text[i - 1] == ' ' || text[i - 1] == '\t'))
            return text.substr(0, i);
    }
    return text;
}

// `path` with a leading "~/" replaced by HOME; "" when it needs HOME and there is none.
std::string expand_home(std::string const& path, std::optional<std::string> const& home) {
    if (path != "~" && !path.starts_with("~/")) return path;
    if (!home) return {};
    return *home + path.substr(1);
}

// The file's text; "" when it does not exist.
result<std::string> read_file(std::string const& path, std::string_view variable) {
    if (path.empty()) return std::string{};
    std::error_code error;
    auto status = std::filesystem::status(path, error);
    if (!std::filesystem::exists(status)) return std::string{};
    if (std::filesystem::is_directory(status)) {
        return make_failure(failure_kind::config, "the AWS shared file " + path + " (" + std::string{variable} +
                                                      ") is a directory; expected an INI file");
    }
    std::ifstream in{path, std::ios::binary};
    if (!in) {
        return make_failure(failure_kind::config,
                            "the AWS shared file " + path + " (" + std::string{variable} + ") cannot be read");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

ini_sections parse_ini(std::string_view text) {
    ini_sections sections;
    ini_section* current = nullptr;
    while (!text.empty()) {
        auto end = text.find('\n');
        auto raw = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);

        bool const indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
        auto line = trim_line(raw);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        if (line.front() == '[') {
            auto close = line.find(']');
            if (close == std::string_view::npos) {
                current = nullptr;  // a broken header: its keys belong to no section
                continue;
            }
            current = &sections[std::string{trim_line(line.substr(1, close - 1))}];
            continue;
        }
        // A nested setting (`s3 =` followed by indented lines) belongs to the key before it.
        if (indented || current == nullptr) continue;
        auto equals = line.find('=');
        if (equals == std::string_view::npos) continue;
        auto key = trim_line(line.substr(0, equals));
        if (key.empty()) continue;
        (*current)[lower(key)] = std::string{trim_line(strip_comment(trim_line(line.substr(equals + 1))))};
    }
    return sections;
}

std::map<std::string, ini_section, std::less<>> merge_profiles(ini_sections const& config_file,
                                                               ini_sections const& credentials_file) {
    std::map<std::string, ini_section, std::less<>> profiles;
    for (auto const& [name, keys] : config_file) {
        std::string profile;
        if (name == "default") {
            profile = "default";
        } else if (name.starts_with("profile ") || name.starts_with("profile\t")) {
            profile = std::string{trim_line(std::string_view{name}.substr(8))};
        } else {
            continue;  // [sso-session x], [services x], or a bare [x], which the config file does not treat as a profile
        }
        if (profile.empty()) continue;
        for (auto const& [key, value] : keys) profiles[profile][key] = value;
    }
    for (auto const& [name, keys] : credentials_file) {
        for (auto const& [key, value] : keys) profiles[name][key] = value;
    }
    return profiles;
}

ini_section const* shared_profiles::find(std::string_view name) const {
    auto it = profiles.find(name);
    return it == profiles.end() ? nullptr : &it->second;
}

std::optional<std::string> shared_profiles::region() const {
    auto const* keys = find(selected);
    if (!keys) return std::nullopt;
    auto it = keys->find("region");
    if (it == keys->end() || it->second.empty()) return std::nullopt;
    return it->second;
}

std::string shared_profiles::where() const {
    std::string const credentials = credentials_file.empty() ? "~/.aws/credentials (no HOME)" : credentials_file;
    std::string const config = config_file.empty() ? "~/.aws/config (no HOME)" : config_file;
    return credentials + " or " + config;
}

result<shared_profiles> load_shared_profiles(environment const& env) {
    auto const home = read_variable(env, "HOME");
    shared_profiles loaded;
    loaded.config_file = expand_home(read_variable(env, "AWS_CONFIG_FILE").value_or("~/.aws/config"), home);
    loaded.credentials_file =
        expand_home(read_variable(env, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), home);

    auto config_text = read_file(loaded.config_file, "AWS_CONFIG_FILE");
    if (!config_text) return config_text.error();
    auto credentials_text = read_file(loaded.credentials_file, "AWS_SHARED_CREDENTIALS_FILE");
    if (!credentials_text) return credentials_text.error();
    loaded.profiles = merge_profiles(parse_ini(*config_text), parse_ini(*credentials_text));

    // botocore reads AWS_DEFAULT_PROFILE first (its 'profile' setting lists it before AWS_PROFILE).
    if (auto name = read_variable(env, "AWS_DEFAULT_PROFILE")) {
        loaded.selected = std::move(*name);
        loaded.selected_explicitly = true;
    } else if (auto profile = read_variable(env, "AWS_PROFILE")) {
        loaded.selected = std::move(*profile);
        loaded.selected_explicitly = true;
    } else {
        loaded.selected = "default";
    }
    return loaded;
}

}  // namespace rancher_ecr
