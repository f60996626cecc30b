// expand_paths: stdin, files, directories, globs; de-duplicated, in order.
#include "source/paths.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

namespace ailog {

bool is_compressed_name(const std::string& path) {
    for (const char* ext : {".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"}) {
        const size_t n = std::strlen(ext);
        if (path.size() >= n && path.compare(path.size() - n, n, ext) == 0) return true;
    }
    return false;
}

ExpandedPaths expand_paths(const std::vector<std::string>& args) {
    ExpandedPaths out;
    std::set<std::string> seen;
    auto add = [&](const std::string& p) {
        if (seen.insert(p).second) out.files.push_back(p);
    };
    for (const auto& arg : args) {
        if (arg == "-") {
            if (out.stdin_used) throw std::runtime_error("- (stdin) is given more than once");
            out.stdin_used = true;
            continue;
        }
        if (arg.find_first_of("*?[") != std::string::npos) {
            glob_t g{};
            const int rc = glob(arg.c_str(), GLOB_NOSORT, nullptr, &g);
            std::vector<std::string> matches;
            for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
            globfree(&g);
            std::sort(matches.begin(), matches.end());
            size_t used = 0;
            for (const auto& m : matches) {
                struct stat st {};
                if (stat(m.c_str(), &st) == 0 && S_ISREG(st.st_mode) && !is_compressed_name(m)) {
                    add(m);
                    ++used;
                }
            }
            if (used == 0) out.warnings.push_back(fmt::format("pattern {} matches no log file", arg));
            continue;
        }
        struct stat st {};
        if (stat(arg.c_str(), &st) != 0)
            throw std::runtime_error(fmt::format("cannot read {}: {}", arg, std::strerror(errno)));
        if (S_ISDIR(st.st_mode)) {
            std::vector<std::string> files;
            std::error_code ec;
            for (const auto& e : std::filesystem::directory_iterator(arg, ec)) {
                const std::string p = e.path().string();
                if (e.is_regular_file(ec) && !is_compressed_name(p)) files.push_back(p);
            }
            if (ec) throw std::runtime_error(fmt::format("cannot list {}: {}", arg, ec.message()));
            std::sort(files.begin(), files.end());
            if (files.empty()) out.warnings.push_back(fmt::format("directory {} holds no log file", arg));
            for (const auto& f : files) add(f);
            continue;
        }
        add(arg);
    }
    return out;
}

}  // namespace ailog
