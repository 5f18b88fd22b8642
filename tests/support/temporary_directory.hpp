#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace rancher_ecr::testing {

// A fresh directory under the system's temporary directory, removed with everything in it when
// this object goes.
class temporary_directory {
public:
    temporary_directory() {
        std::string pattern = (std::filesystem::temp_directory_path() / "rancher-ecr-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~temporary_directory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    temporary_directory(temporary_directory const&) = delete;
    temporary_directory& operator=(temporary_directory const&) = delete;

    std::filesystem::path const& path() const { return path_; }

    // Writes `text` to `name` inside the directory (creating parent directories); returns the full path.
    std::string write(std::string const& name, std::string const& text) const {
        auto file = path_ / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream{file, std::ios::binary | std::ios::trunc} << text;
        return file.string();
    }

private:
    std::filesystem::path path_;
};

}  // namespace rancher_ecr::testing
