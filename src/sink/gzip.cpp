// gzip_compress: one-shot deflate with a gzip header.
#include "sink/gzip.hpp"

#include <zlib.h>

namespace ailog {

bool gzip_compress(std::string_view in, std::string& out, int level) {
    z_stream zs{};
    // windowBits 15 + 16: gzip header and trailer instead of zlib's.
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    const size_t start = out.size();
    out.resize(start + deflateBound(&zs, static_cast<uLong>(in.size())));
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + start);
    zs.avail_out = static_cast<uInt>(out.size() - start);
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(start + zs.total_out);
    deflateEnd(&zs);
    return rc == Z_STREAM_END;
}

}  // namespace ailog
