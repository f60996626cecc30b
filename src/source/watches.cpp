// Watches: inotify, an eventfd to be woken by, and poll().
#include "source/watches.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace ailog {

Watches::Watches(bool watch_files) : watch_files_(watch_files) {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) spdlog::warn("inotify unavailable ({}); relying on rescans", std::strerror(errno));
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        if (inotify_fd_ >= 0) ::close(inotify_fd_);
        throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
    }
}

Watches::~Watches() {
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Watches::watch_dir(const std::string& dir) {
    if (inotify_fd_ < 0 || watched_dirs_.count(dir)) return;
    const int wd =
        inotify_add_watch(inotify_fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR);
    if (wd < 0) return;
    dir_watches_[wd] = dir;
    watched_dirs_.insert(dir);
}

int Watches::watch_file(const std::string& path, uint64_t dev, uint64_t ino) {
    if (inotify_fd_ < 0 || !watch_files_) return -1;
    const int wd = inotify_add_watch(inotify_fd_, path.c_str(), IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
    if (wd < 0) return -1;  // rescans still read it
    // The path may already name another inode; only keep a watch on ours.
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_ino) == ino &&
        static_cast<uint64_t>(st.st_dev) == dev) {
        file_watches_.insert(wd);
        return wd;
    }
    if (file_watches_.count(wd) == 0) inotify_rm_watch(inotify_fd_, wd);
    return -1;
}

void Watches::unwatch_file(int wd) {
    if (wd < 0 || file_watches_.erase(wd) == 0) return;
    inotify_rm_watch(inotify_fd_, wd);
}

bool Watches::drain(const std::function<void(const FileEvent&)>& on_file, bool& overflow) {
    overflow = false;
    if (inotify_fd_ < 0) return false;
    bool rescan = false;
    alignas(inotify_event) char buf[16384];
    for (;;) {
        const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
            off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            if (ev->mask & IN_Q_OVERFLOW) {
                rescan = overflow = true;
                continue;
            }
            if (file_watches_.count(ev->wd)) {
                const bool moved = (ev->mask & (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)) != 0;
                const bool gone = (ev->mask & IN_IGNORED) != 0;
                rescan |= moved;
                if (gone) file_watches_.erase(ev->wd);
                on_file({ev->wd, moved, gone});
                continue;
            }
            if (auto it = dir_watches_.find(ev->wd); it != dir_watches_.end()) {
                rescan = true;
                if (ev->mask & IN_IGNORED) {
                    watched_dirs_.erase(it->second);
                    dir_watches_.erase(it);
                }
            }
        }
    }
    return rescan;
}

void Watches::wait(int timeout_ms, bool with_stdin) {
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake_fd_, POLLIN, 0};
    if (inotify_fd_ >= 0) fds[n++] = {inotify_fd_, POLLIN, 0};
    if (with_stdin) fds[n++] = {0, POLLIN, 0};
    poll(fds, n, std::max(timeout_ms, 0));
    uint64_t v;
    while (::read(wake_fd_, &v, sizeof v) > 0) {
    }
}

void Watches::wake() {
    const uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace ailog
