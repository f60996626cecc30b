// Tailer: discovery, identity, rotation and truncation handling, reading.
#include "source/tailer.hpp"

#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "common/hash.hpp"
#include "source/paths.hpp"

namespace ailog {
namespace {

constexpr size_t kFileBudget = 4 << 20;  // per file per round: keeps files fair
constexpr size_t kStreamChunk = 256 << 10;
constexpr uint64_t kFingerprintSeed = 0x6a09e667f3bcc908ULL;
// A new file shorter than a fingerprint waits this long for more bytes before
// it is read: a copy being written (copytruncate) must be recognised as one.
constexpr double kIdentifyWaitMs = 1000;
// How long the rest of a truncated file's stream waits for its copy.
constexpr double kRetiredKeepMs = 60000;

double now_ms() {
    using namespace std::chrono;
    return static_cast<double>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

bool has_glob_chars(const std::string& s) {
    return s.find_first_of("*?[") != std::string::npos;
}

// Hash of the first `len` bytes of the file, or nothing if it has fewer.
std::optional<uint64_t> fingerprint_of(int fd, uint32_t len) {
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

// Whether the first `len` bytes of two files are the same.
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

// A file's identity by content: its short fingerprint, and a deeper one that
// tells apart files sharing a first line (a banner) or a first few lines.
bool content_matches(int fd, off_t size, uint32_t fp_len, uint64_t fp, uint32_t deep_len, uint64_t deep_fp) {
    if (size < static_cast<off_t>(std::max(fp_len, deep_len))) return false;
    if (fp_len > 0) {
        const auto h = fingerprint_of(fd, fp_len);
        if (!h || *h != fp) return false;
    }
    if (deep_len > fp_len) {
        const auto h = fingerprint_of(fd, deep_len);
        if (!h || *h != deep_fp) return false;
    }
    return true;
}

}  // namespace

struct Tailer::File {
    File(std::string p, int source_id, size_t max_line) : path(std::move(p)), reader(source_id, max_line) {}
    std::string path;
    int fd = -1;
    uint64_t dev = 0;
    uint64_t ino = 0;
    uint32_t fp_len = 0;
    uint64_t fp = 0;
    uint32_t deep_len = 0;
    uint64_t deep_fp = 0;
    FdReader reader;
    bool dirty = true;
    bool seen = true;
    bool ended = false;              // exit_on_eof: read to its end
    bool closed = false;             // to be removed after this round
    double gone_since_ms = 0;        // no longer found at a watched path
    double pending_since_ms = 0;     // waiting for enough bytes to be identified
    File* parked_copy_of = nullptr;  // a copy of a live file: read only after that one is truncated
    off_t target = -1;               // size at start: caught up once read to here
    int wd = -1;
};

struct Tailer::Retired {
    uint64_t fp;
    uint32_t deep_len;
    uint64_t deep_fp;
    uint64_t offset;
    bool mid_line;  // offset is inside a line already counted
    int source;
    double since_ms;
};

Tailer::Tailer(TailOptions options, LineSink& sink) : options_(options), sink_(sink) {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) spdlog::warn("inotify unavailable ({}); relying on rescans", std::strerror(errno));
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
}

Tailer::~Tailer() {
    for (auto& f : files_)
        if (f->fd >= 0) ::close(f->fd);
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Tailer::add_path(const std::string& arg) {
    if (has_glob_chars(arg)) {
        specs_.push_back({PathSpec::Kind::Glob, arg});
        return;
    }
    struct stat st {};
    if (stat(arg.c_str(), &st) != 0)
        throw std::runtime_error(fmt::format("cannot read {}: {}", arg, std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) {
        specs_.push_back({PathSpec::Kind::Dir, arg});
        return;
    }
    if (access(arg.c_str(), R_OK) != 0)
        throw std::runtime_error(fmt::format("cannot read {}: {}", arg, std::strerror(errno)));
    specs_.push_back({PathSpec::Kind::File, arg});
}

void Tailer::add_stdin() {
    use_stdin_ = true;
    stdin_source_ = sink_.open_source("-");
    stdin_reader_ = std::make_unique<FdReader>(stdin_source_, options_.max_line_bytes);
}

std::vector<Tailer::Candidate> Tailer::discover() const {
    std::vector<Candidate> out;
    std::set<std::pair<uint64_t, uint64_t>> inodes;
    auto consider = [&](const std::string& path) {
        if (is_compressed_name(path)) return;
        struct stat st {};
        if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
        if (!inodes.insert({st.st_dev, st.st_ino}).second) return;  // same file under two names
        out.push_back({path, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), st.st_size});
    };
    for (const auto& spec : specs_) {
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
                if (options_.recursive) {
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

void Tailer::watch_dir(const std::string& dir) {
    if (inotify_fd_ < 0 || watched_dirs_.count(dir)) return;
    const int wd =
        inotify_add_watch(inotify_fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR);
    if (wd < 0) return;
    dir_watches_[wd] = dir;
    watched_dirs_.insert(dir);
}

void Tailer::watch_file(File& f) {
    if (inotify_fd_ < 0 || options_.exit_on_eof) return;
    const int wd =
        inotify_add_watch(inotify_fd_, f.path.c_str(), IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
    if (wd < 0) return;  // rescans still read it
    // The path may already name another inode; only keep a watch on ours.
    struct stat st {};
    if (stat(f.path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_ino) == f.ino &&
        static_cast<uint64_t>(st.st_dev) == f.dev) {
        f.wd = wd;
        file_watches_[wd] = &f;
    } else if (file_watches_.count(wd) == 0) {
        inotify_rm_watch(inotify_fd_, wd);
    }
}

Tailer::File* Tailer::open_file(const Candidate& c) {
    const int fd = ::open(c.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        spdlog::warn("cannot open {}: {}", c.path, std::strerror(errno));
        return nullptr;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_ino) != c.ino) {
        ::close(fd);  // replaced between discovery and open: the next rescan sees the new one
        return nullptr;
    }
    auto f = std::make_unique<File>(c.path, -1, options_.max_line_bytes);
    f->fd = fd;
    f->dev = c.dev;
    f->ino = c.ino;
    File* raw = f.get();
    files_.push_back(std::move(f));
    update_fingerprint(*raw);
    return raw;
}

void Tailer::update_fingerprint(File& f) {
    struct stat st {};
    if (fstat(f.fd, &st) != 0) return;
    const auto len = static_cast<uint32_t>(std::min<off_t>(st.st_size, kFingerprintBytes));
    if (len > f.fp_len) {
        if (auto h = fingerprint_of(f.fd, len)) {
            f.fp_len = len;
            f.fp = *h;
        }
    }
    const auto deep = static_cast<uint32_t>(std::min<off_t>(st.st_size, kDeepFingerprintBytes));
    if (deep > f.deep_len && deep > kFingerprintBytes) {
        if (auto h = fingerprint_of(f.fd, deep)) {
            f.deep_len = deep;
            f.deep_fp = *h;
        }
    }
}

bool Tailer::fingerprint_changed(File& f) {
    if (f.fp_len == 0) return false;
    const auto h = fingerprint_of(f.fd, f.fp_len);
    return !h || *h != f.fp;  // shorter than the fingerprint: truncated
}

void Tailer::start(const std::vector<FileState>* saved, const RestoreFn& on_restored) {
    rescan(true, saved, &on_restored);
    next_rescan_ms_ = now_ms() + options_.rescan_interval_ms;
    update_caught_up();
}

void Tailer::rescan(bool initial, const std::vector<FileState>* saved, const RestoreFn* on_restored) {
    const double now = now_ms();
    const auto candidates = discover();
    std::map<std::pair<uint64_t, uint64_t>, File*> by_inode;
    for (auto& f : files_) {
        f->seen = false;
        by_inode[{f->dev, f->ino}] = f.get();
    }
    std::vector<bool> saved_used(saved ? saved->size() : 0, false);
    // Watch where new files can appear, even while nothing matches yet.
    for (const auto& spec : specs_) {
        namespace fs = std::filesystem;
        if (spec.kind == PathSpec::Kind::Dir) {
            watch_dir(spec.text);
            continue;
        }
        // A file's directory; a pattern's deepest directory without wildcards.
        std::string dir = fs::path(spec.text).parent_path().string();
        while (has_glob_chars(dir)) dir = fs::path(dir).parent_path().string();
        watch_dir(dir.empty() ? "." : dir);
    }

    // Files already followed first (a truncation is noticed before a copy
    // beside it is judged), then the new ones.
    std::vector<const Candidate*> ordered;
    for (const auto& c : candidates)
        if (by_inode.count({c.dev, c.ino})) ordered.push_back(&c);
    for (const auto& c : candidates)
        if (!by_inode.count({c.dev, c.ino})) ordered.push_back(&c);
    for (const Candidate* cp : ordered) {
        const Candidate& c = *cp;
        watch_dir(std::filesystem::path(c.path).parent_path().string());
        if (auto it = by_inode.find({c.dev, c.ino}); it != by_inode.end()) {
            File& f = *it->second;
            f.seen = true;
            f.gone_since_ms = 0;
            if (f.path != c.path) {
                spdlog::info("rotated file={} now={}", f.path, c.path);
                ++stats_.rotations;
                f.path = c.path;
            }
            if (c.size != f.reader.offset()) f.dirty = true;
            if (!initial && f.parked_copy_of == nullptr && (c.size < f.reader.offset() || fingerprint_changed(f))) {
                // Truncated, or rewritten in place past the old offset
                // (copytruncate): before a copy beside it is looked at.
                handle_truncation(f);
            }
            continue;
        }

        // An inode not followed yet.
        if (!initial && c.size < static_cast<off_t>(kFingerprintBytes)) {
            // Too short to tell a new file from a copy in progress: wait a little.
            auto& pending = pending_first_seen_[{c.dev, c.ino}];
            if (pending == 0) pending = now;
            if (now - pending < kIdentifyWaitMs) {
                identify_pending_ = true;
                continue;
            }
        }
        File* f = open_file(c);
        if (f == nullptr) continue;
        pending_first_seen_.erase({c.dev, c.ino});
        struct stat st {};
        fstat(f->fd, &st);
        uint64_t offset = 0;
        bool mid_line = false;
        const FileState* restored = nullptr;

        if (initial && saved != nullptr) {
            // Same inode and same first bytes; else same first bytes elsewhere (moved while down).
            for (int pass = 0; pass < 2 && restored == nullptr; ++pass) {
                for (size_t i = 0; i < saved->size(); ++i) {
                    const FileState& s = (*saved)[i];
                    if (saved_used[i]) continue;
                    if (pass == 0 && (s.dev != f->dev || s.ino != f->ino)) continue;
                    if (pass == 1 && s.fingerprint_len < kFingerprintBytes) continue;
                    if (!content_matches(f->fd, st.st_size, s.fingerprint_len, s.fingerprint, s.deep_len,
                                         s.deep_fingerprint))
                        continue;
                    saved_used[i] = true;
                    restored = &s;
                    break;
                }
            }
            if (restored != nullptr && restored->offset <= static_cast<uint64_t>(st.st_size)) {
                offset = restored->offset;
                mid_line = restored->mid_line;
            } else if (restored != nullptr) {
                spdlog::warn("file {} is shorter than its saved offset; reading it from the start", c.path);
                restored = nullptr;
            }
        } else if (initial && options_.start_at_end && st.st_size > 0) {
            char last = '\n';
            if (pread(f->fd, &last, 1, st.st_size - 1) != 1) last = '\n';
            offset = static_cast<uint64_t>(st.st_size);
            mid_line = last != '\n';
        }

        int source = -1;
        if (!initial && f->fp_len == kFingerprintBytes) {
            const CopyMatch m = match_copy(*f, st.st_size);
            source = m.source;
            if (m.found) {
                offset = m.offset;
                mid_line = m.mid_line;
            }
        }
        if (source < 0) {
            source = sink_.open_source(c.path);
            spdlog::debug("new file={} offset={} size={} fingerprint_len={}", c.path, offset, st.st_size, f->fp_len);
        }
        f->reader.set_id(source);
        if (restored != nullptr && on_restored != nullptr && *on_restored) (*on_restored)(source, *restored);
        lseek(f->fd, static_cast<off_t>(offset), SEEK_SET);
        f->reader.set_offset(static_cast<off_t>(offset));
        if (mid_line) f->reader.start_mid_line();
        f->target = initial ? st.st_size : -1;
        f->dirty = true;
        watch_file(*f);
    }

    if (saved != nullptr)
        for (size_t i = 0; i < saved->size(); ++i)
            if (!saved_used[i])
                spdlog::warn("file {} from the state file is gone; what it held after offset {} was not read",
                             (*saved)[i].path, (*saved)[i].offset);

    for (auto& f : files_) {
        if (f->seen || f->closed) continue;
        if (f->gone_since_ms == 0) {
            f->gone_since_ms = now;
            ++stats_.rotations;
        }
        f->dirty = true;  // read what is left, then close
    }
    stats_.files = files_.size() + (use_stdin_ && !stdin_ended_ ? 1 : 0);
}

Tailer::CopyMatch Tailer::match_copy(File& f, off_t size) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        // The copy of a truncated file: it holds what the original had not delivered.
        for (auto it = retired_.begin(); it != retired_.end(); ++it) {
            if ((*it)->fp != f.fp ||
                !content_matches(f.fd, size, kFingerprintBytes, f.fp, (*it)->deep_len, (*it)->deep_fp))
                continue;
            CopyMatch m{true, (*it)->source, std::min<uint64_t>((*it)->offset, static_cast<uint64_t>(size)),
                        (*it)->mid_line && (*it)->offset < static_cast<uint64_t>(size)};
            spdlog::info("copy of a truncated file found file={} offset={}", f.path, m.offset);
            retired_.erase(it);
            return m;
        }
        // The copy of a live file: the original still holds these bytes. A
        // copy is no longer than its original, and holds the same bytes.
        std::vector<File*> truncated;
        for (auto& other : files_) {
            if (other.get() == &f || other->closed || other->parked_copy_of != nullptr) continue;
            if (other->fp_len != kFingerprintBytes || other->fp != f.fp) continue;
            struct stat ost {};
            if (fstat(other->fd, &ost) == 0 && size <= ost.st_size &&
                same_prefix(f.fd, other->fd, std::min<size_t>(static_cast<size_t>(size), kDeepFingerprintBytes))) {
                f.parked_copy_of = other.get();
                spdlog::info("copy of a followed file found file={} original={}", f.path, other->path);
                return {true, -1, static_cast<uint64_t>(size), false};
            }
            // The original no longer holds them: it was truncated in the
            // meantime (copytruncate), which is the next thing to notice.
            if (ost.st_size < other->reader.offset() || fingerprint_changed(*other)) truncated.push_back(other.get());
        }
        if (truncated.empty()) break;
        for (File* t : truncated) handle_truncation(*t);
    }
    return {};
}

void Tailer::handle_truncation(File& f) {
    ++stats_.truncations;
    const uint64_t committed = static_cast<uint64_t>(f.reader.offset()) - f.reader.pending();
    spdlog::info("truncated file={} offset={}", f.path, committed);
    File* copy = nullptr;
    for (auto& other : files_)
        if (other->parked_copy_of == &f) copy = other.get();
    if (copy != nullptr) {
        // The copy continues the old stream from where the original stopped.
        copy->parked_copy_of = nullptr;
        sink_.close_source(copy->reader.id());
        copy->reader.set_id(f.reader.id());
        copy->reader.reset();
        struct stat st {};
        fstat(copy->fd, &st);
        const uint64_t offset = std::min<uint64_t>(committed, static_cast<uint64_t>(st.st_size));
        lseek(copy->fd, static_cast<off_t>(offset), SEEK_SET);
        copy->reader.set_offset(static_cast<off_t>(offset));
        if (f.reader.skipping() && offset == committed) copy->reader.start_mid_line();
        copy->dirty = true;
    } else if (f.fp_len == kFingerprintBytes) {
        retired_.push_back(
            std::make_unique<Retired>(Retired{f.fp, f.deep_len, f.deep_fp, committed, f.reader.skipping(), f.reader.id(), now_ms()}));
    } else {
        sink_.close_source(f.reader.id());
    }
    f.reader.set_id(sink_.open_source(f.path));
    f.reader.reset();
    lseek(f.fd, 0, SEEK_SET);
    f.reader.set_offset(0);
    f.fp_len = f.deep_len = 0;
    f.fp = f.deep_fp = 0;
    update_fingerprint(f);
    f.target = -1;
    f.dirty = true;
}

void Tailer::close_file(File& f) {
    for (auto& other : files_) {
        if (other->parked_copy_of != &f) continue;
        // The original was read to its end without being truncated: the copy
        // holds nothing new.
        other->parked_copy_of = nullptr;
    }
    if (f.wd >= 0) {
        file_watches_.erase(f.wd);
        inotify_rm_watch(inotify_fd_, f.wd);
    }
    ::close(f.fd);
    f.fd = -1;
    sink_.close_source(f.reader.id());
    f.closed = true;
}

bool Tailer::service(File& f) {
    if (f.parked_copy_of != nullptr || f.closed || f.ended) {
        f.dirty = false;
        return false;
    }
    // Truncated and written again past the old offset before this read
    // (copytruncate while the service is busy): the first bytes tell.
    if (f.fp_len > 0 && fingerprint_changed(f)) {
        handle_truncation(f);
        return true;
    }
    const auto status = f.reader.read_some(f.fd, sink_, kFileBudget, false);
    if (status == FdReader::Status::Data) return true;
    if (status == FdReader::Status::Error) {
        spdlog::warn("read error on {}: {}; closing it", f.path, std::strerror(errno));
        close_file(f);
        return true;
    }
    f.dirty = false;
    struct stat st {};
    if (fstat(f.fd, &st) != 0) return false;
    if (st.st_size < f.reader.offset()) {
        handle_truncation(f);
        return true;
    }
    if (f.deep_len < kDeepFingerprintBytes && st.st_size > static_cast<off_t>(std::max(f.fp_len, f.deep_len)))
        update_fingerprint(f);
    if (options_.exit_on_eof) {
        f.reader.finish(sink_);
        f.ended = true;
        return true;
    }
    f.reader.shrink();
    // A deleted or renamed-away file may still be written to by a service
    // that has it open: keep reading it for one rescan interval.
    const bool deleted = st.st_nlink == 0;
    if (deleted && f.gone_since_ms == 0) f.gone_since_ms = now_ms();
    if (f.gone_since_ms > 0 && now_ms() - f.gone_since_ms >= options_.rescan_interval_ms) {
        spdlog::info("closing {} file={} offset={}", deleted ? "deleted" : "rotated-away", f.path, f.reader.offset());
        close_file(f);
    }
    return false;
}

void Tailer::drain_events() {
    if (inotify_fd_ < 0) return;
    alignas(inotify_event) char buf[16384];
    for (;;) {
        const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
            off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            if (ev->mask & IN_Q_OVERFLOW) {
                rescan_needed_ = true;
                for (auto& f : files_) f->dirty = true;
                continue;
            }
            if (auto it = file_watches_.find(ev->wd); it != file_watches_.end()) {
                it->second->dirty = true;
                if (ev->mask & (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)) rescan_needed_ = true;
                if (ev->mask & IN_IGNORED) {
                    it->second->wd = -1;
                    file_watches_.erase(it);
                }
                continue;
            }
            if (auto it = dir_watches_.find(ev->wd); it != dir_watches_.end()) {
                rescan_needed_ = true;
                if (ev->mask & IN_IGNORED) {
                    watched_dirs_.erase(it->second);
                    dir_watches_.erase(it);
                }
            }
        }
    }
}

void Tailer::wait(int timeout_ms) {
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake_fd_, POLLIN, 0};
    if (inotify_fd_ >= 0) fds[n++] = {inotify_fd_, POLLIN, 0};
    if (use_stdin_ && !stdin_ended_) fds[n++] = {0, POLLIN, 0};
    poll(fds, n, std::max(timeout_ms, 0));
    uint64_t v;
    while (::read(wake_fd_, &v, sizeof v) > 0) {
    }
}

void Tailer::expire_retired(double now) {
    for (auto it = retired_.begin(); it != retired_.end();) {
        if (now - (*it)->since_ms >= kRetiredKeepMs) {
            sink_.close_source((*it)->source);
            it = retired_.erase(it);
        } else {
            ++it;
        }
    }
}

void Tailer::update_caught_up() {
    if (caught_up_.load(std::memory_order_relaxed)) return;
    for (const auto& f : files_)
        if (!f->closed && f->parked_copy_of == nullptr && f->target >= 0 && f->reader.offset() < f->target) return;
    caught_up_.store(true, std::memory_order_release);
}

std::vector<FilePosition> Tailer::positions() const {
    std::vector<FilePosition> out;
    for (const auto& f : files_) {
        if (f->closed) continue;
        FilePosition p;
        p.path = f->path;
        p.dev = f->dev;
        p.ino = f->ino;
        p.fingerprint_len = f->fp_len;
        p.fingerprint = f->fp;
        p.deep_len = f->deep_len;
        p.deep_fingerprint = f->deep_fp;
        // A parked copy's bytes are still in its original: nothing to read.
        p.offset = static_cast<uint64_t>(f->reader.offset()) - f->reader.pending();
        p.mid_line = f->reader.skipping();
        p.source = f->reader.id();
        out.push_back(std::move(p));
    }
    return out;
}

void Tailer::run(const std::function<void(bool idle)>& on_round) {
    while (!stopping_.load(std::memory_order_relaxed)) {
        drain_events();
        const double now = now_ms();
        if (rescan_requested_.exchange(false)) rescan_needed_ = true;
        const bool periodic = now >= next_rescan_ms_;
        if (!options_.exit_on_eof && (rescan_needed_ || periodic || identify_pending_)) {
            rescan_needed_ = false;
            identify_pending_ = false;
            rescan(false, nullptr, nullptr);
            if (periodic) {
                next_rescan_ms_ = now + options_.rescan_interval_ms;
                for (auto& f : files_) f->dirty = true;
            }
        }

        bool progressed = false;
        for (size_t i = 0; i < files_.size(); ++i) {
            File& f = *files_[i];
            if (f.dirty) progressed |= service(f);
        }
        if (use_stdin_ && !stdin_ended_) {
            pollfd p{0, POLLIN, 0};
            if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
                const auto status = stdin_reader_->read_some(0, sink_, kStreamChunk, true);
                if (status != FdReader::Status::Data) {
                    stdin_reader_->finish(sink_);
                    stdin_ended_ = true;
                }
                progressed = true;
            }
        }
        files_.erase(std::remove_if(files_.begin(), files_.end(), [](const auto& f) { return f->closed; }),
                     files_.end());
        stats_.files = files_.size() + (use_stdin_ && !stdin_ended_ ? 1 : 0);
        stats_.pending_bytes = stdin_reader_ ? stdin_reader_->pending() : 0;
        for (const auto& f : files_) stats_.pending_bytes += f->reader.pending();
        expire_retired(now);
        update_caught_up();
        on_round(!progressed);
        if (progressed) continue;
        if (options_.exit_on_eof) {
            const bool all_ended = std::all_of(files_.begin(), files_.end(),
                                               [](const auto& f) { return f->ended || f->parked_copy_of != nullptr; });
            if (all_ended && (!use_stdin_ || stdin_ended_)) break;
        }
        // Waits for inotify, stdin or stop(); the timeout drives rescans,
        // identification of short new files and periodic work of on_round.
        double timeout = std::min(1000.0, next_rescan_ms_ - now);
        if (identify_pending_) timeout = std::min(timeout, 100.0);
        wait(static_cast<int>(timeout));
    }
    on_round(true);
}

void Tailer::stop() {
    stopping_.store(true);
    const uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

void Tailer::request_rescan() {
    rescan_requested_.store(true);
    const uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace ailog
