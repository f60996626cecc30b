// Tailer: follows the files discovery finds, deciding on rotation and
// truncation by their identity, and reads them.
#include "source/tailer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>

namespace ailog {
namespace {

constexpr size_t kFileBudget = 4 << 20;  // per file per round: keeps files fair
constexpr size_t kStreamChunk = 256 << 10;
// A new file shorter than a fingerprint waits this long for more bytes before
// it is read: a copy being written (copytruncate) must be recognised as one.
constexpr double kIdentifyWaitMs = 1000;
// How long the rest of a truncated file's stream waits for its copy.
constexpr double kRetiredKeepMs = 60000;

double now_ms() {
    using namespace std::chrono;
    return static_cast<double>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

}  // namespace

struct Tailer::File {
    File(std::string p, int source_id, size_t max_line) : path(std::move(p)), reader(source_id, max_line) {}
    std::string path;
    int fd = -1;
    uint64_t dev = 0;
    uint64_t ino = 0;
    Fingerprint fp;
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

Tailer::Tailer(TailOptions options, LineSink& sink)
    : options_(options),
      sink_(sink),
      retired_(kRetiredKeepMs),
      identify_gate_(kIdentifyWaitMs),
      watches_(!options.exit_on_eof) {}

Tailer::~Tailer() {
    for (auto& f : files_)
        if (f->fd >= 0) ::close(f->fd);
}

void Tailer::add_path(const std::string& arg) {
    specs_.push_back(parse_path_spec(arg));
}

void Tailer::add_stdin() {
    use_stdin_ = true;
    stdin_source_ = sink_.open_source("-");
    stdin_reader_ = std::make_unique<FdReader>(stdin_source_, options_.max_line_bytes);
}

void Tailer::watch_file(File& f) {
    const int wd = watches_.watch_file(f.path, f.dev, f.ino);
    if (wd < 0) return;
    f.wd = wd;
    file_watches_[wd] = &f;
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
    if (fstat(f.fd, &st) == 0) extend_fingerprint(f.fd, st.st_size, f.fp);
}

bool Tailer::fingerprint_changed(File& f) {
    return ailog::fingerprint_changed(f.fd, f.fp);
}

void Tailer::start(const std::vector<FileIdentity>* saved, const RestoreFn& on_restored) {
    rescan(true, saved, &on_restored);
    next_rescan_ms_ = now_ms() + options_.rescan_interval_ms;
    update_caught_up();
}

void Tailer::rescan(bool initial, const std::vector<FileIdentity>* saved, const RestoreFn* on_restored) {
    const double now = now_ms();
    const auto candidates = discover(specs_, options_.recursive);
    std::map<std::pair<uint64_t, uint64_t>, File*> by_inode;
    for (auto& f : files_) {
        f->seen = false;
        by_inode[{f->dev, f->ino}] = f.get();
    }
    std::vector<bool> saved_used(saved ? saved->size() : 0, false);
    // Watch where new files can appear, even while nothing matches yet.
    for (const auto& spec : specs_) watches_.watch_dir(watch_root(spec));

    // Files already followed first (a truncation is noticed before a copy
    // beside it is judged), then the new ones.
    std::vector<const Candidate*> ordered;
    for (const auto& c : candidates)
        if (by_inode.count({c.dev, c.ino})) ordered.push_back(&c);
    for (const auto& c : candidates)
        if (!by_inode.count({c.dev, c.ino})) ordered.push_back(&c);
    for (const Candidate* cp : ordered) {
        const Candidate& c = *cp;
        watches_.watch_dir(std::filesystem::path(c.path).parent_path().string());
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
            if (!initial && f.parked_copy_of == nullptr &&
                truncated(c.size, f.reader.offset(), [&] { return fingerprint_changed(f); })) {
                // Truncated, or rewritten in place past the old offset
                // (copytruncate): before a copy beside it is looked at.
                handle_truncation(f);
            }
            continue;
        }

        // An inode not followed yet.
        // Too short to tell a new file from a copy in progress: wait a little.
        if (!initial && !identify_gate_.ready(c.dev, c.ino, c.size, now)) {
            identify_pending_ = true;
            continue;
        }
        File* f = open_file(c);
        if (f == nullptr) continue;
        identify_gate_.forget(c.dev, c.ino);
        struct stat st {};
        fstat(f->fd, &st);
        StartPoint at;
        std::optional<size_t> restored;

        if (initial && saved != nullptr) {
            const auto i = find_saved(*saved, saved_used, f->dev, f->ino,
                                      [&](const Fingerprint& fp) { return content_matches(f->fd, st.st_size, fp); });
            if (i && (*saved)[*i].offset <= static_cast<uint64_t>(st.st_size)) {
                restored = i;
                at = {(*saved)[*i].offset, (*saved)[*i].mid_line};
            } else if (i) {
                spdlog::warn("file {} is shorter than its saved offset; reading it from the start", c.path);
            }
        } else if (initial && options_.start_at_end && st.st_size > 0) {
            char last = '\n';
            if (pread(f->fd, &last, 1, st.st_size - 1) != 1) last = '\n';
            at = start_at_end(st.st_size, last);
        }

        int source = -1;
        if (!initial && f->fp.complete()) {
            const CopyMatch m = match_copy(*f, st.st_size);
            source = m.source;
            if (m.found) at = m.at;
        }
        if (source < 0) {
            source = sink_.open_source(c.path);
            spdlog::debug("new file={} offset={} size={} fingerprint_len={}", c.path, at.offset, st.st_size, f->fp.len);
        }
        f->reader.set_id(source);
        if (restored && on_restored != nullptr && *on_restored) (*on_restored)(source, *restored);
        lseek(f->fd, static_cast<off_t>(at.offset), SEEK_SET);
        f->reader.set_offset(static_cast<off_t>(at.offset));
        if (at.mid_line) f->reader.start_mid_line();
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
        if (const auto r = retired_.take(
                [&](const RetiredStream& r) { return r.fp.hash == f.fp.hash && content_matches(f.fd, size, r.fp); })) {
            const CopyMatch m{true, r->source, resume_retired(*r, size)};
            spdlog::info("copy of a truncated file found file={} offset={}", f.path, m.at.offset);
            return m;
        }
        // The copy of a live file: the original still holds these bytes. A
        // copy is no longer than its original, and holds the same bytes.
        std::vector<File*> truncated_originals;
        for (auto& other : files_) {
            if (other.get() == &f || other->closed || other->parked_copy_of != nullptr) continue;
            if (!other->fp.complete() || other->fp.hash != f.fp.hash) continue;
            struct stat ost {};
            if (fstat(other->fd, &ost) == 0 && size <= ost.st_size &&
                same_prefix(f.fd, other->fd, std::min<size_t>(static_cast<size_t>(size), kDeepFingerprintBytes))) {
                f.parked_copy_of = other.get();
                spdlog::info("copy of a followed file found file={} original={}", f.path, other->path);
                return {true, -1, {static_cast<uint64_t>(size), false}};
            }
            // The original no longer holds them: it was truncated in the
            // meantime (copytruncate), which is the next thing to notice.
            if (truncated(ost.st_size, other->reader.offset(), [&] { return fingerprint_changed(*other); }))
                truncated_originals.push_back(other.get());
        }
        if (truncated_originals.empty()) break;
        for (File* t : truncated_originals) handle_truncation(*t);
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
        const StartPoint at = resume_in_copy(committed, f.reader.skipping(), st.st_size);
        lseek(copy->fd, static_cast<off_t>(at.offset), SEEK_SET);
        copy->reader.set_offset(static_cast<off_t>(at.offset));
        if (at.mid_line) copy->reader.start_mid_line();
        copy->dirty = true;
    } else if (f.fp.complete()) {
        retired_.add({f.fp, committed, f.reader.skipping(), f.reader.id(), now_ms()});
    } else {
        sink_.close_source(f.reader.id());
    }
    f.reader.set_id(sink_.open_source(f.path));
    f.reader.reset();
    lseek(f.fd, 0, SEEK_SET);
    f.reader.set_offset(0);
    f.fp = {};
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
        watches_.unwatch_file(f.wd);
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
    if (f.fp.len > 0 && fingerprint_changed(f)) {
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
    if (f.fp.deep_len < kDeepFingerprintBytes && st.st_size > static_cast<off_t>(std::max(f.fp.len, f.fp.deep_len)))
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
    bool overflow = false;
    const bool rescan = watches_.drain(
        [this](const Watches::FileEvent& ev) {
            auto it = file_watches_.find(ev.wd);
            if (it == file_watches_.end()) return;
            it->second->dirty = true;
            if (ev.gone) {
                it->second->wd = -1;
                file_watches_.erase(it);
            }
        },
        overflow);
    rescan_needed_ |= rescan;
    if (overflow)
        for (auto& f : files_) f->dirty = true;
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
        p.fingerprint_len = f->fp.len;
        p.fingerprint = f->fp.hash;
        p.deep_len = f->fp.deep_len;
        p.deep_fingerprint = f->fp.deep_hash;
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
        retired_.expire(now, [this](int source) { sink_.close_source(source); });
        // Caught up only once on_round has published what this round read:
        // a scrape let through at that instant must already see it.
        on_round(!progressed);
        update_caught_up();
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
        watches_.wait(static_cast<int>(timeout), use_stdin_ && !stdin_ended_);
    }
    on_round(true);
}

void Tailer::stop() {
    stopping_.store(true);
    watches_.wake();
}

void Tailer::request_rescan() {
    rescan_requested_.store(true);
    watches_.wake();
}

}  // namespace ailog
