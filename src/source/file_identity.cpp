// File identity: fingerprints and the follower's decisions on them.
#include "source/file_identity.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/hash.hpp"

namespace ailog {
namespace {

constexpr uint64_t kFingerprintSeed = 0x6a09e667f3bcc908ULL;

}  // namespace

std::optional<uint64_t> prefix_hash(int fd, uint32_t len) {
    std::vector<char> buf(len);
    size_t got = 0;
    while (got < len) {
        const ssize_t n = pread(fd, buf.data() + got, len - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;
        got += static_cast<size_t>(n);
    }
    return hash64(std::string_view(buf.data(), len), kFingerprintSeed);
}

bool same_prefix(int a, int b, size_t len) {
    char x[8192], y[8192];
    for (size_t done = 0; done < len;) {
        const size_t want = std::min(sizeof x, len - done);
        if (pread(a, x, want, static_cast<off_t>(done)) != static_cast<ssize_t>(want) ||
            pread(b, y, want, static_cast<off_t>(done)) != static_cast<ssize_t>(want) || std::memcmp(x, y, want) != 0)
            return false;
        done += want;
    }
    return true;
}

bool content_matches(int fd, off_t size, const Fingerprint& fp) {
    if (size < static_cast<off_t>(std::max(fp.len, fp.deep_len))) return false;
    if (fp.len > 0) {
        const auto h = prefix_hash(fd, fp.len);
        if (!h || *h != fp.hash) return false;
    }
    if (fp.deep_len > fp.len) {
        const auto h = prefix_hash(fd, fp.deep_len);
        if (!h || *h != fp.deep_hash) return false;
    }
    return true;
}

void extend_fingerprint(int fd, off_t size, Fingerprint& fp) {
    const auto len = static_cast<uint32_t>(std::min<off_t>(size, kFingerprintBytes));
    if (len > fp.len) {
        if (auto h = prefix_hash(fd, len)) {
            fp.len = len;
            fp.hash = *h;
        }
    }
    const auto deep = static_cast<uint32_t>(std::min<off_t>(size, kDeepFingerprintBytes));
    if (deep > fp.deep_len && deep > kFingerprintBytes) {
        if (auto h = prefix_hash(fd, deep)) {
            fp.deep_len = deep;
            fp.deep_hash = *h;
        }
    }
}

bool fingerprint_changed(int fd, const Fingerprint& fp) {
    if (fp.len == 0) return false;
    const auto h = prefix_hash(fd, fp.len);
    return !h || *h != fp.hash;  // shorter than the fingerprint: truncated
}

StartPoint start_at_end(off_t size, char last) {
    if (size <= 0) return {};
    return {static_cast<uint64_t>(size), last != '\n'};
}

Fingerprint fingerprint_of(const FileIdentity& saved) {
    return {saved.fingerprint_len, saved.fingerprint, saved.deep_len, saved.deep_fingerprint};
}

std::optional<size_t> find_saved(const std::vector<FileIdentity>& saved, std::vector<bool>& used, uint64_t dev,
                                 uint64_t ino, const std::function<bool(const Fingerprint&)>& matches) {
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < saved.size(); ++i) {
            const FileIdentity& s = saved[i];
            if (used[i]) continue;
            if (pass == 0 && (s.dev != dev || s.ino != ino)) continue;
            if (pass == 1 && s.fingerprint_len < kFingerprintBytes) continue;
            if (!matches(fingerprint_of(s))) continue;
            used[i] = true;
            return i;
        }
    }
    return std::nullopt;
}

StartPoint resume_in_copy(uint64_t committed, bool mid_line, off_t copy_size) {
    const uint64_t offset = std::min<uint64_t>(committed, static_cast<uint64_t>(copy_size));
    return {offset, mid_line && offset == committed};
}

StartPoint resume_retired(const RetiredStream& r, off_t copy_size) {
    const auto size = static_cast<uint64_t>(copy_size);
    return {std::min(r.offset, size), r.mid_line && r.offset < size};
}

bool IdentifyGate::ready(uint64_t dev, uint64_t ino, off_t size, double now_ms) {
    if (size >= static_cast<off_t>(kFingerprintBytes)) return true;
    const auto [it, inserted] = first_seen_.try_emplace({dev, ino}, now_ms);
    return now_ms - it->second >= wait_ms_;
}

std::optional<RetiredStream> RetiredStreams::take(const std::function<bool(const RetiredStream&)>& matches) {
    for (auto it = streams_.begin(); it != streams_.end(); ++it) {
        if (!matches(*it)) continue;
        RetiredStream r = *it;
        streams_.erase(it);
        return r;
    }
    return std::nullopt;
}

void RetiredStreams::expire(double now_ms, const std::function<void(int source)>& on_expired) {
    for (auto it = streams_.begin(); it != streams_.end();) {
        if (now_ms - it->since_ms >= keep_ms_) {
            on_expired(it->source);
            it = streams_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace ailog
