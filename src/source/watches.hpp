// Watches: waiting for something to read. inotify on the followed files
// (written, renamed, deleted) and on the directories where files appear,
// stdin's readiness, and a wake-up other threads can give (stop, rescan).
// Without inotify, waiting still ends at its timeout: the periodic rescan
// finds everything, later.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace ailog {

class Watches {
public:
    explicit Watches(bool watch_files);
    ~Watches();
    Watches(const Watches&) = delete;
    Watches& operator=(const Watches&) = delete;

    // Events about files appearing, moving or leaving in `dir` ask for a rescan.
    void watch_dir(const std::string& dir);
    // A watch on the file at `path` if it is still the inode (dev, ino); its
    // descriptor, or -1 (no inotify, or the path names another file now).
    int watch_file(const std::string& path, uint64_t dev, uint64_t ino);
    void unwatch_file(int wd);

    struct FileEvent {
        int wd;
        bool moved_or_deleted;  // renamed, deleted or its link count changed: rescan
        bool gone;              // the watch no longer exists
    };
    // Reads every pending event: each of a watched file to `on_file`.
    // Returns whether a rescan is due (a directory changed, a file moved);
    // `overflow`: events were lost, every file may have changed.
    bool drain(const std::function<void(const FileEvent&)>& on_file, bool& overflow);

    // Until an event, stdin readable (when `with_stdin`), wake() or the timeout.
    void wait(int timeout_ms, bool with_stdin);
    void wake();  // any thread

private:
    bool watch_files_;
    int inotify_fd_ = -1;
    int wake_fd_ = -1;
    std::unordered_map<int, std::string> dir_watches_;
    std::unordered_set<std::string> watched_dirs_;
    std::unordered_set<int> file_watches_;
};

}  // namespace ailog
