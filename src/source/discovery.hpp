// Discovery: which files the PATH arguments name right now. A plain path is
// one file or a directory's regular files (optionally recursively); a glob
// pattern is whatever it matches at each scan. Compressed rotated files are
// never followed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ailog {

struct PathSpec {
    enum class Kind { File, Dir, Glob } kind;
    std::string text;
};

// What a PATH argument is. Throws std::runtime_error naming a plain path
// (no pattern) that does not exist or cannot be read.
PathSpec parse_path_spec(const std::string& arg);

// A regular file found by a scan.
struct Candidate {
    std::string path;
    uint64_t dev;
    uint64_t ino;
    off_t size;
};

// The files the specs match now, in the specs' order (a directory's sorted by
// name), each inode once even under two names.
std::vector<Candidate> discover(const std::vector<PathSpec>& specs, bool recursive);

// Where new files of `spec` appear, to be watched: a directory itself, a
// file's directory, a pattern's deepest directory without wildcards.
std::string watch_root(const PathSpec& spec);

}  // namespace ailog
