// Discovery: path specs, scans, and the directories to watch.
#include "source/discovery.hpp"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "source/paths.hpp"

namespace ailog {
namespace {

bool has_glob_chars(const std::string& s) {
    return s.find_first_of("*?[") != std::string::npos;
}

}  // namespace

PathSpec parse_path_spec(const std::string& arg) {
    if (has_glob_chars(arg)) return {PathSpec::Kind::Glob, arg};
    struct stat st {};
    if (stat(arg.c_str(), &st) != 0)
        throw std::runtime_error(fmt::format("cannot read {}: {}", arg, std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) return {PathSpec::Kind::Dir, arg};
    if (access(arg.c_str(), R_OK) != 0)
        throw std::runtime_error(fmt::format("cannot read {}: {}", arg, std::strerror(errno)));
    return {PathSpec::Kind::File, arg};
}

std::vector<Candidate> discover(const std::vector<PathSpec>& specs, bool recursive) {
    std::vector<Candidate> out;
    std::set<std::pair<uint64_t, uint64_t>> inodes;
    auto consider = [&](const std::string& path) {
        if (is_compressed_name(path)) return;
        struct stat st {};
        if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
        if (!inodes.insert({st.st_dev, st.st_ino}).second) return;  // same file under two names
        out.push_back({path, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), st.st_size});
    };
    for (const auto& spec : specs) {
        switch (spec.kind) {
            case PathSpec::Kind::File:
                consider(spec.text);
                break;
            case PathSpec::Kind::Glob: {
                glob_t g{};
                if (glob(spec.text.c_str(), 0, nullptr, &g) == 0)
                    for (size_t i = 0; i < g.gl_pathc; ++i) consider(g.gl_pathv[i]);
                globfree(&g);
                break;
            }
            case PathSpec::Kind::Dir: {
                std::vector<std::string> paths;
                std::error_code ec;
                namespace fs = std::filesystem;
                if (recursive) {
                    for (fs::recursive_directory_iterator
                             it(spec.text, fs::directory_options::follow_directory_symlink, ec),
                         end;
                         !ec && it != end; it.increment(ec))
                        paths.push_back(it->path().string());
                } else {
                    for (fs::directory_iterator it(spec.text, ec), end; !ec && it != end; it.increment(ec))
                        paths.push_back(it->path().string());
                }
                std::sort(paths.begin(), paths.end());
                for (const auto& p : paths) consider(p);
                break;
            }
        }
    }
    return out;
}

std::string watch_root(const PathSpec& spec) {
    namespace fs = std::filesystem;
    if (spec.kind == PathSpec::Kind::Dir) return spec.text;
    std::string dir = fs::path(spec.text).parent_path().string();
    while (has_glob_chars(dir)) dir = fs::path(dir).parent_path().string();
    return dir.empty() ? "." : dir;
}

}  // namespace ailog
