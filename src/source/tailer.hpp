// Tailer: follows log files the way a production shipper does.
//
// Inputs are files, directories (their regular files, optionally
// recursively), glob patterns and stdin. Files are identified by device and
// inode while open, and by a fingerprint of their first bytes across
// restarts and copies, so that:
//   - rename rotation finishes the old file and starts the new one at 0;
//   - copytruncate is noticed (size below the offset, or the first bytes
//     changed) and the file re-read from 0, while the copy left beside it is
//     read only for what the original had not yet delivered;
//   - a file deleted while open is read to its end, then closed;
//   - only complete lines are delivered; a partial last line waits.
// Waiting is event-driven (inotify on files and directories) with a periodic
// rescan as a safety net.
//
// The parts that change for different reasons live beside it: which files
// the paths name (discovery), what wakes it up (watches), how a file is
// recognised and what its changes mean (file_identity), and the reading of
// one descriptor into lines (fd_reader). The Tailer ties them together.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ailog/line_sink.hpp"
#include "source/discovery.hpp"
#include "source/fd_reader.hpp"
#include "source/file_identity.hpp"
#include "source/watches.hpp"

namespace ailog {

struct TailOptions {
    bool start_at_end = true;  // files present at start, when there is no saved position
    bool exit_on_eof = false;  // read every input to its end once, then return
    bool recursive = false;    // directories: descend into subdirectories
    size_t max_line_bytes = 1 << 20;
    double rescan_interval_ms = 5000;
};

// Where a followed file is, for the state file.
struct FilePosition : FileIdentity {
    int source = -1;  // the sink's source id (when saving)
};

struct TailStats {
    uint64_t rotations = 0;      // a followed file renamed, or replaced at its path
    uint64_t truncations = 0;    // a followed file truncated or rewritten in place
    size_t files = 0;            // inputs open
    uint64_t pending_bytes = 0;  // read, but part of a line not complete yet
};

class Tailer {
public:
    Tailer(TailOptions options, LineSink& sink);
    ~Tailer();
    Tailer(const Tailer&) = delete;
    Tailer& operator=(const Tailer&) = delete;

    // A file, directory or glob pattern. Throws std::runtime_error when a
    // plain path (no pattern) does not exist or cannot be read.
    void add_path(const std::string& arg);
    void add_stdin();

    // First discovery and opening. With `saved` (from the state file), a file
    // found there continues from its offset (on_restored is called with its
    // new source id and the index of the saved entry), any other file is new
    // since the last run and is read from 0. Without it, --start-at decides.
    using RestoreFn = std::function<void(int source, size_t saved_index)>;
    void start(const std::vector<FileIdentity>* saved, const RestoreFn& on_restored);

    // Reads until stop() (or, with exit_on_eof, until every input is at its
    // end). `on_round` runs on this thread after every round of reading.
    void run(const std::function<void(bool idle)>& on_round);
    void stop();            // any thread
    void request_rescan();  // any thread (SIGHUP): rescan paths, reopen files

    // Every file has been read up to the size it had when start() ran.
    bool caught_up() const { return caught_up_.load(std::memory_order_acquire); }
    // Current positions of open files (this thread only).
    std::vector<FilePosition> positions() const;
    const TailStats& stats() const { return stats_; }

private:
    struct File;

    void rescan(bool initial, const std::vector<FileIdentity>* saved, const RestoreFn* on_restored);
    File* open_file(const Candidate& c);
    bool service(File& f);
    struct CopyMatch {
        bool found = false;
        int source = -1;  // the stream it continues (-1: none)
        StartPoint at;    // where to start reading it
    };
    // Whether a new file is the copy of a followed file (copytruncate).
    CopyMatch match_copy(File& f, off_t size);
    void handle_truncation(File& f);
    void close_file(File& f);
    void update_fingerprint(File& f);
    bool fingerprint_changed(File& f);
    void watch_file(File& f);
    void drain_events();
    void update_caught_up();

    TailOptions options_;
    LineSink& sink_;
    std::vector<PathSpec> specs_;
    std::vector<std::unique_ptr<File>> files_;
    RetiredStreams retired_;
    IdentifyGate identify_gate_;
    Watches watches_;
    std::unordered_map<int, File*> file_watches_;
    bool use_stdin_ = false;
    int stdin_source_ = -1;
    bool stdin_ended_ = false;
    std::unique_ptr<FdReader> stdin_reader_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> rescan_requested_{false};
    std::atomic<bool> caught_up_{false};
    bool rescan_needed_ = false;
    bool identify_pending_ = false;
    double next_rescan_ms_ = 0;
    TailStats stats_;
};

}  // namespace ailog
