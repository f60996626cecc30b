// Names of files that are never tailed.
#pragma once

#include <string>

namespace ailog {

// Compressed rotated files (app.log.1.gz) are never tailed.
bool is_compressed_name(const std::string& path);

}  // namespace ailog
