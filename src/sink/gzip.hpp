// gzip compression of scrape responses (zlib).
#pragma once

#include <string>
#include <string_view>

namespace ailog {

// Appends the gzip encoding of `in` to `out`; false on a zlib error.
bool gzip_compress(std::string_view in, std::string& out, int level = 1);

}  // namespace ailog
