// Follower: reads files and stdin as they grow and hands complete lines to a
// LineSink. Waiting is event-driven (inotify for files, poll for stdin), so
// an idle exporter sleeps.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "ailog/line_sink.hpp"
#include "source/fd_reader.hpp"

namespace ailog {

struct FollowOptions {
    bool start_at_end = true;  // for files present at start
    bool exit_on_eof = false;  // read every input to its end once, then return
    size_t max_line_bytes = 1 << 20;
};

class Follower {
public:
    Follower(FollowOptions options, LineSink& sink);
    ~Follower();
    Follower(const Follower&) = delete;
    Follower& operator=(const Follower&) = delete;

    // Opens a file now; throws std::runtime_error naming the path and the
    // reason when it cannot be read.
    void add_file(const std::string& path, int source_id);
    void add_stdin(int source_id);
    size_t inputs() const { return inputs_.size(); }

    // Reads until stop() is called (or, with exit_on_eof, until every input
    // has been read to its end).
    void run();
    // Thread-safe; wakes run() up.
    void stop();

private:
    struct Input;
    bool read_available(Input& in);
    void wait_for_events(int timeout_ms);
    void check_file(Input& in);

    FollowOptions options_;
    LineSink& sink_;
    std::vector<std::unique_ptr<Input>> inputs_;
    int inotify_fd_ = -1;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
};

}  // namespace ailog
