// LineFramer: turns the bytes of one stream into complete lines.
//
// Bytes are read straight into the framer's buffer (write_area/commit), and
// lines are handed out as views into it, without the "\n" or "\r\n". Every
// view is followed by at least kLinePadding readable bytes, the first of them
// '\r' or '\n', so simdjson can parse it in place. A line longer than the limit is dropped whole, however
// many reads it spans, and reported once.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace ailog {

inline constexpr size_t kLinePadding = 64;  // >= SIMDJSON_PADDING

class LineFramer {
public:
    explicit LineFramer(size_t max_line_bytes, size_t read_chunk = 64 * 1024);

    // A writable area of at least `min` bytes (the buffer grows up to the
    // line limit plus one chunk); call commit() with what was written.
    std::span<char> write_area(size_t min);
    void commit(size_t n) { end_ += n; }

    // Calls on_line(std::string_view line, size_t capacity) for every complete
    // line (capacity: readable bytes from line.data(), padding included) and
    // on_too_long() for every line over the limit.
    template <class OnLine, class OnTooLong>
    void drain(OnLine&& on_line, OnTooLong&& on_too_long);

    // End of the stream: a last line without a newline is complete too.
    template <class OnLine, class OnTooLong>
    void finish(OnLine&& on_line, OnTooLong&& on_too_long);

    // The same, one line at a time: the next complete line (valid until the
    // next write_area), an over-long line, or nothing until more bytes come.
    enum class Framed { Line, TooLong, NeedMore };
    Framed next(std::string_view& line, size_t& capacity);
    // End of the stream: the bytes after the last newline, if any, as a line.
    bool rest(std::string_view& line, size_t& capacity);

    // Bytes of an incomplete line waiting for its newline.
    size_t pending() const { return end_ - begin_; }
    // Inside a line already dealt with (over-long, or cut by starting in the
    // middle of a stream): what comes up to the next newline is dropped.
    bool skipping() const { return discarding_; }
    // Drops buffered bytes; `discard_to_newline` also drops the rest of the
    // current line (used when starting to read in the middle of a file).
    void reset(bool discard_to_newline = false);
    // Releases the buffer when nothing is pending (idle files).
    void shrink();

private:
    size_t capacity_from(size_t pos) const { return buf_.size() - pos; }
    std::string_view line_at(size_t from, size_t nl) const {
        size_t len = nl - from;
        if (len > 0 && buf_[from + len - 1] == '\r') --len;
        return {buf_.data() + from, len};
    }

    std::vector<char> buf_;
    size_t begin_ = 0;  // first byte of the current (incomplete) line
    size_t scan_ = 0;   // bytes before this were searched for '\n'
    size_t end_ = 0;    // end of buffered data
    size_t max_line_;
    size_t chunk_;
    bool discarding_ = false;  // inside an over-long line: drop until '\n'
};

inline LineFramer::Framed LineFramer::next(std::string_view& line, size_t& capacity) {
    while (scan_ < end_) {
        const char* base = buf_.data();
        const void* hit = std::memchr(base + scan_, '\n', end_ - scan_);
        if (hit == nullptr) {
            scan_ = end_;
            break;
        }
        const size_t nl = static_cast<size_t>(static_cast<const char*>(hit) - base);
        const size_t from = begin_;
        begin_ = scan_ = nl + 1;
        if (discarding_) {
            discarding_ = false;
            continue;
        }
        if (nl - from > max_line_) return Framed::TooLong;
        line = line_at(from, nl);
        capacity = capacity_from(from);
        return Framed::Line;
    }
    if (!discarding_ && end_ - begin_ > max_line_) {
        discarding_ = true;
        begin_ = scan_ = end_ = 0;  // nothing of it is kept
        return Framed::TooLong;
    }
    if (discarding_ || begin_ == end_) begin_ = scan_ = end_ = 0;
    return Framed::NeedMore;
}

inline bool LineFramer::rest(std::string_view& line, size_t& capacity) {
    if (end_ == begin_ || discarding_) return false;
    // The padding is always allocated; its first byte ends the line like a
    // newline would (simdjson inspects it).
    buf_[end_] = '\n';
    line = line_at(begin_, end_);
    capacity = capacity_from(begin_);
    begin_ = scan_ = end_;
    return true;
}

template <class OnLine, class OnTooLong>
void LineFramer::drain(OnLine&& on_line, OnTooLong&& on_too_long) {
    std::string_view line;
    size_t cap = 0;
    for (;;) {
        switch (next(line, cap)) {
            case Framed::Line:
                on_line(line, cap);
                break;
            case Framed::TooLong:
                on_too_long();
                break;
            case Framed::NeedMore:
                return;
        }
    }
}

template <class OnLine, class OnTooLong>
void LineFramer::finish(OnLine&& on_line, OnTooLong&& on_too_long) {
    drain(on_line, on_too_long);
    std::string_view line;
    size_t cap = 0;
    if (rest(line, cap)) on_line(line, cap);
    reset();
}

}  // namespace ailog
