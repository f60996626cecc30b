// FdReader: reads one descriptor into a LineFramer and passes the complete
// lines on to a LineSink. Bytes are reported once their line is complete, so
// a partial line read again after a restart is not counted twice.
#pragma once

#include <sys/types.h>

#include <string>

#include "ailog/line_sink.hpp"
#include "source/line_framer.hpp"

namespace ailog {

class FdReader {
public:
    enum class Status { Data, Eof, Error };

    FdReader(int source_id, size_t max_line_bytes) : id_(source_id), framer_(max_line_bytes) {}

    // Reads at most `budget` bytes from `fd` and delivers the complete
    // lines. `single_read`: one read() only, for descriptors that may block.
    // Status::Data if anything was read.
    Status read_some(int fd, LineSink& sink, size_t budget, bool single_read);
    // End of stream: the last line counts even without a newline.
    void finish(LineSink& sink);
    // Starting in the middle of a stream: ignore bytes up to the next newline.
    void start_mid_line() { framer_.reset(true); }
    void reset() {
        framer_.reset();
        consumed_ = offset_;
    }
    size_t pending() const { return framer_.pending(); }
    // The bytes consumed so far end inside a line that is already counted:
    // a reader resuming there must drop them up to the next newline.
    bool skipping() const { return framer_.skipping(); }
    off_t offset() const { return offset_; }
    void set_offset(off_t o) { offset_ = consumed_ = o; }
    int id() const { return id_; }
    void set_id(int id) { id_ = id; }
    void shrink() { framer_.shrink(); }

private:
    int id_;
    LineFramer framer_;
    void report_consumed(LineSink& sink);

    off_t offset_ = 0;    // bytes read from the descriptor
    off_t consumed_ = 0;  // bytes of complete lines handed on (reported to on_bytes)
};

}  // namespace ailog
