// FdReader: read() into the framer, lines out.
#include "source/fd_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ailog {

FdReader::Status FdReader::read_some(int fd, LineSink& sink, size_t budget, bool single_read) {
    constexpr size_t kChunk = 256 * 1024;
    bool got = false;
    while (budget > 0) {
        auto area = framer_.write_area(kChunk);
        const ssize_t n = ::read(fd, area.data(), std::min(area.size(), budget));
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            sink.on_read_error(id_);
            return Status::Error;
        }
        if (n == 0) return got ? Status::Data : Status::Eof;
        got = true;
        framer_.commit(static_cast<size_t>(n));
        offset_ += n;
        budget -= std::min(budget, static_cast<size_t>(n));
        framer_.drain([&](std::string_view line, size_t cap) { sink.on_line(id_, line, cap); },
                      [&] { sink.on_too_long(id_); });
        report_consumed(sink);
        if (single_read || static_cast<size_t>(n) < area.size()) break;  // drained what was there
    }
    return got ? Status::Data : Status::Eof;
}

void FdReader::finish(LineSink& sink) {
    framer_.finish([&](std::string_view line, size_t cap) { sink.on_line(id_, line, cap); },
                   [&] { sink.on_too_long(id_); });
    report_consumed(sink);
}

void FdReader::report_consumed(LineSink& sink) {
    const off_t now = offset_ - static_cast<off_t>(framer_.pending());
    if (now > consumed_) sink.on_bytes(static_cast<size_t>(now - consumed_));
    consumed_ = now;
}

}  // namespace ailog
