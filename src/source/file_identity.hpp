// File identity: telling files apart by their first bytes, and the decisions
// a follower takes on it. While a file is open its device and inode say
// which it is; across restarts, renames and copies only its content can:
//   - a short fingerprint of the first 256 bytes, and a deep one of up to the
//     first 64 KiB (files sharing a banner line are still told apart);
//   - a file that no longer starts with its fingerprinted bytes, or is
//     shorter than what was read, was truncated (copytruncate);
//   - a new file holding a followed or truncated file's first bytes is its
//     copy, read only for what the original had not yet delivered.
// The decisions take times as arguments, so they are tested without waiting.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ailog {

inline constexpr uint32_t kFingerprintBytes = 256;
inline constexpr uint32_t kDeepFingerprintBytes = 64 * 1024;

struct Fingerprint {
    uint32_t len = 0;  // bytes hashed, up to kFingerprintBytes
    uint64_t hash = 0;
    uint32_t deep_len = 0;  // up to kDeepFingerprintBytes; 0 until the file is longer than the short one
    uint64_t deep_hash = 0;
    // Long enough to recognise the file by (shorter files may still be written).
    bool complete() const { return len == kFingerprintBytes; }
};

// Hash of the first `len` bytes of the open file, or nothing if it has fewer.
std::optional<uint64_t> prefix_hash(int fd, uint32_t len);
// Whether the first `len` bytes of two open files are the same.
bool same_prefix(int a, int b, size_t len);
// Whether a file of `size` bytes starts with the bytes `fp` was taken of.
bool content_matches(int fd, off_t size, const Fingerprint& fp);
// Extends `fp` to what the file's first bytes now allow.
void extend_fingerprint(int fd, off_t size, Fingerprint& fp);
// The file no longer starts with the bytes of `fp` (or is shorter than them).
bool fingerprint_changed(int fd, const Fingerprint& fp);

// A followed file, and how far it has been read: what the state file keeps
// of it to find it again after a restart.
struct FileIdentity {
    std::string path;
    uint64_t dev = 0;
    uint64_t ino = 0;
    uint32_t fingerprint_len = 0;  // of the first bytes (up to 256)
    uint64_t fingerprint = 0;
    uint32_t deep_len = 0;  // fingerprint of up to the first 64 KiB
    uint64_t deep_fingerprint = 0;
    uint64_t offset = 0;    // bytes fully consumed (complete lines)
    bool mid_line = false;  // offset is inside a line already counted (over-long)
};

// Where reading starts, or resumes.
struct StartPoint {
    uint64_t offset = 0;
    bool mid_line = false;  // drop bytes up to the next newline: that line is counted already
    bool operator==(const StartPoint&) const = default;
};

// --start-at end for a file of `size` bytes whose last byte is `last`.
StartPoint start_at_end(off_t size, char last);

// The saved file a file found at start-up continues: the same inode with the
// same first bytes, else the same first bytes elsewhere (renamed while the
// exporter was down; only with a complete fingerprint). `matches` tells
// whether the file's content matches a saved fingerprint. An entry is used
// at most once (`used`).
std::optional<size_t> find_saved(const std::vector<FileIdentity>& saved, std::vector<bool>& used, uint64_t dev,
                                 uint64_t ino, const std::function<bool(const Fingerprint&)>& matches);
Fingerprint fingerprint_of(const FileIdentity& saved);

// A followed file was truncated or rewritten in place: shorter than what was
// read, or no longer its first bytes (asked only when the size says nothing).
template <typename FirstBytesChanged>
bool truncated(off_t size, off_t read_offset, FirstBytesChanged&& first_bytes_changed) {
    return size < read_offset || first_bytes_changed();
}

// Where a copy of a followed file continues its original's stream: from what
// the original had delivered (`committed`, `mid_line` as it was there), no
// further than the copy's end.
StartPoint resume_in_copy(uint64_t committed, bool mid_line, off_t copy_size);

// New files shorter than a fingerprint may be a copy still being written:
// they wait `wait_ms` from when they were first seen before they are read.
class IdentifyGate {
public:
    explicit IdentifyGate(double wait_ms) : wait_ms_(wait_ms) {}
    // Whether the file (dev, ino) of `size` bytes can be identified now.
    bool ready(uint64_t dev, uint64_t ino, off_t size, double now_ms);
    void forget(uint64_t dev, uint64_t ino) { first_seen_.erase({dev, ino}); }

private:
    double wait_ms_;
    std::map<std::pair<uint64_t, uint64_t>, double> first_seen_;
};

// The rest of a truncated file's stream, waiting for its copy to appear.
struct RetiredStream {
    Fingerprint fp;
    uint64_t offset;  // delivered up to here
    bool mid_line;    // offset is inside a line already counted
    int source;       // the stream
    double since_ms;
};

class RetiredStreams {
public:
    explicit RetiredStreams(double keep_ms) : keep_ms_(keep_ms) {}
    void add(const RetiredStream& r) { streams_.push_back(r); }
    // The first stream `matches` accepts, taken out.
    std::optional<RetiredStream> take(const std::function<bool(const RetiredStream&)>& matches);
    // Streams whose copy has not come within the keep time: taken out, and
    // each one's source given to `on_expired`.
    void expire(double now_ms, const std::function<void(int source)>& on_expired);
    size_t size() const { return streams_.size(); }

private:
    double keep_ms_;
    std::vector<RetiredStream> streams_;
};

// Where a new file found to be the copy of a truncated file starts.
StartPoint resume_retired(const RetiredStream& r, off_t copy_size);

}  // namespace ailog
