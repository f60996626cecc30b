// Replay inputs: files read once, to their end, gzip-compressed or not.
//
// Paths (files, directories, glob patterns) are grouped into rotated sets
// (app.log.3.gz, app.log.2.gz, app.log.1, app.log share "app.log"); a set is
// read oldest first as one stream, so a call that starts in one file and ends
// in the next is still one call.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "source/line_framer.hpp"

namespace ailog {

struct RotatedSet {
    std::string name;                // directory and base name
    std::vector<std::string> files;  // oldest first
    uint64_t bytes = 0;              // on disk (compressed size for .gz)
};

// The name of the rotated set `path` belongs to: the live file's path
// ("/var/log/app.log" for "/var/log/app.log.2.gz", "app.log-20250601" and
// kubelet's "0.log.20250601-120000").
std::string rotated_set_name(const std::string& path);

// Expands and groups the PATH arguments; throws std::runtime_error naming a
// path that cannot be read.
std::vector<RotatedSet> collect_rotated_sets(const std::vector<std::string>& args, bool recursive);

// The lines of one rotated set, pulled one at a time.
class SetReader {
public:
    SetReader(const RotatedSet& set, size_t max_line_bytes);
    ~SetReader();
    SetReader(const SetReader&) = delete;
    SetReader& operator=(const SetReader&) = delete;

    enum class Next { Line, TooLong, End };
    // The next line (valid until the next call); End after the last file.
    Next next(std::string_view& line, size_t& capacity);

    // Bytes of the files consumed so far (compressed bytes for .gz).
    uint64_t disk_bytes_done() const;
    uint64_t bytes_read() const { return bytes_read_; }  // decompressed
    uint64_t read_errors() const { return read_errors_; }
    const std::string& current_file() const;

private:
    bool open_next();
    void close_current();
    long read_into(char* buf, size_t n);

    const RotatedSet& set_;
    size_t index_ = 0;  // files_[index_ - 1] is open
    int fd_ = -1;          // the open file
    gzFile gz_ = nullptr;  // its decompressor, for gzip files (owns fd_)
    uint64_t done_before_ = 0;  // disk bytes of the files already finished
    uint64_t bytes_read_ = 0;
    uint64_t read_errors_ = 0;
    LineFramer framer_;
};

}  // namespace ailog
