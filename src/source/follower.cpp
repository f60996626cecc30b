// Follower: open inputs, read what is there, sleep on inotify/poll.
#include "source/follower.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace ailog {

struct Follower::Input {
    Input(std::string p, int id, size_t max_line) : path(std::move(p)), reader(id, max_line) {}
    ~Input() {
        if (fd > 0) ::close(fd);  // never close stdin (fd 0)
    }
    std::string path;
    int fd = -1;
    bool is_stdin = false;
    bool ended = false;
    FdReader reader;
};

namespace {
constexpr size_t kFileBudget = 4 << 20;  // per input per round: keeps inputs fair
constexpr size_t kStreamChunk = 256 << 10;
}  // namespace

Follower::Follower(FollowOptions options, LineSink& sink) : options_(options), sink_(sink) {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
}

Follower::~Follower() {
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Follower::add_file(const std::string& path, int source_id) {
    auto in = std::make_unique<Input>(path, source_id, options_.max_line_bytes);
    in->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in->fd < 0) throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    struct stat st {};
    if (fstat(in->fd, &st) != 0)
        throw std::runtime_error(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) throw std::runtime_error(fmt::format("{} is a directory", path));
    if (options_.start_at_end && S_ISREG(st.st_mode) && st.st_size > 0) {
        // Skip what is there; a last line still being written belongs to it.
        char last = '\n';
        if (pread(in->fd, &last, 1, st.st_size - 1) != 1) last = '\n';
        if (lseek(in->fd, st.st_size, SEEK_SET) < 0)
            throw std::runtime_error(fmt::format("cannot seek in {}: {}", path, std::strerror(errno)));
        in->reader.set_offset(st.st_size);
        if (last != '\n') in->reader.start_mid_line();
    }
    if (inotify_fd_ >= 0 && !options_.exit_on_eof)
        inotify_add_watch(inotify_fd_, path.c_str(),
                          IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF);
    inputs_.push_back(std::move(in));
}

void Follower::add_stdin(int source_id) {
    auto in = std::make_unique<Input>(std::string(1, '-'), source_id, options_.max_line_bytes);
    in->fd = 0;
    in->is_stdin = true;
    inputs_.push_back(std::move(in));
}

void Follower::check_file(Input& in) {
    struct stat st {};
    if (fstat(in.fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    if (st.st_size < in.reader.offset()) {
        // Truncated in place (copytruncate): start over from the beginning.
        lseek(in.fd, 0, SEEK_SET);
        in.reader.reset();
        in.reader.set_offset(0);
        sink_.on_source_reset(in.reader.id());
    }
}

bool Follower::read_available(Input& in) {
    if (in.is_stdin) {
        pollfd p{in.fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) return false;
    }
    const auto status = in.reader.read_some(in.fd, sink_, in.is_stdin ? kStreamChunk : kFileBudget, in.is_stdin);
    if (status == FdReader::Status::Data) return true;
    if (status == FdReader::Status::Error || in.is_stdin || options_.exit_on_eof) {
        in.reader.finish(sink_);
        in.ended = true;
        return true;
    }
    check_file(in);
    in.reader.shrink();
    return false;
}

void Follower::wait_for_events(int timeout_ms) {
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake_fd_, POLLIN, 0};
    if (inotify_fd_ >= 0) fds[n++] = {inotify_fd_, POLLIN, 0};
    for (const auto& in : inputs_)
        if (in->is_stdin && !in->ended) fds[n++] = {in->fd, POLLIN, 0};
    if (poll(fds, n, timeout_ms) <= 0) return;
    // Only being woken matters; every input is read on the next round.
    alignas(inotify_event) char buf[4096];
    if (inotify_fd_ >= 0)
        while (::read(inotify_fd_, buf, sizeof buf) > 0) {
        }
    uint64_t v;
    while (::read(wake_fd_, &v, sizeof v) > 0) {
    }
}

void Follower::run() {
    while (!stopping_.load(std::memory_order_relaxed)) {
        bool progressed = false;
        bool all_ended = true;
        for (auto& in : inputs_) {
            if (in->ended) continue;
            progressed |= read_available(*in);
            all_ended &= in->ended;
        }
        sink_.on_batch_end(!progressed);
        if (progressed) continue;
        if (options_.exit_on_eof && all_ended) break;
        // The timeout is a safety net for changes inotify does not report.
        wait_for_events(1000);
    }
    sink_.on_batch_end(true);
}

void Follower::stop() {
    stopping_.store(true);
    const uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace ailog
