// Helpers shared by the unit tests.
#pragma once

#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace ailog::test {

// A copy of `s` followed by simdjson's padding, as the framer provides.
struct Padded {
    explicit Padded(std::string_view s) : buf(s) {
        buf.append(simdjson::SIMDJSON_PADDING, ' ');
        size = s.size();
    }
    std::string_view view() const { return {buf.data(), size}; }
    size_t capacity() const { return buf.size(); }
    std::string buf;
    size_t size;
};

// A fresh directory under the system's temporary one, removed afterwards.
struct TempDir {
    explicit TempDir(const std::string& name)
        : root(std::filesystem::temp_directory_path() / ("ailog-" + name + "-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(root);
        std::filesystem::create_directories(root);
    }
    ~TempDir() { std::filesystem::remove_all(root); }
    // Writes `text` to the file `rel` (creating its directories); its path.
    std::string file(const std::string& rel, const std::string& text = "{}\n") const {
        const std::filesystem::path p = root / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string path(const std::string& rel) const { return (root / rel).string(); }
    std::filesystem::path root;
};

}  // namespace ailog::test
