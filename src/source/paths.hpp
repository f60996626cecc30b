// Expansion of the PATH arguments: files, "-" (stdin), directories (their
// regular files) and glob patterns.
#pragma once

#include <string>
#include <vector>

namespace ailog {

struct ExpandedPaths {
    std::vector<std::string> files;
    bool stdin_used = false;
    std::vector<std::string> warnings;  // e.g. a pattern that matches nothing yet
};

// Throws std::runtime_error naming the argument that cannot be used.
ExpandedPaths expand_paths(const std::vector<std::string>& args);

// Compressed rotated files (app.log.1.gz) are never tailed.
bool is_compressed_name(const std::string& path);

}  // namespace ailog
