// is_compressed_name: file name extensions of compressed logs.
#include "source/paths.hpp"

#include <cstring>

namespace ailog {

bool is_compressed_name(const std::string& path) {
    for (const char* ext : {".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"}) {
        const size_t n = std::strlen(ext);
        if (path.size() >= n && path.compare(path.size() - n, n, ext) == 0) return true;
    }
    return false;
}

}  // namespace ailog
