// LineFramer buffer management.
#include "source/line_framer.hpp"

#include <algorithm>

namespace ailog {

LineFramer::LineFramer(size_t max_line_bytes, size_t read_chunk) : max_line_(max_line_bytes), chunk_(read_chunk) {}

std::span<char> LineFramer::write_area(size_t min) {
    min = std::max<size_t>(min, 1);
    const size_t usable = buf_.empty() ? 0 : buf_.size() - kLinePadding;
    if (usable - end_ < min && begin_ > 0) {
        // Move the incomplete line to the front.
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        scan_ -= begin_;
        begin_ = 0;
    }
    if (buf_.empty() || buf_.size() - kLinePadding - end_ < min) {
        size_t want = std::max(buf_.empty() ? chunk_ : (buf_.size() - kLinePadding) * 2, end_ + min);
        // The longest useful content is one line at the limit plus a chunk.
        want = std::min(want, std::max(max_line_ + chunk_, end_ + min));
        buf_.resize(want + kLinePadding);
    }
    return {buf_.data() + end_, buf_.size() - kLinePadding - end_};
}

void LineFramer::reset(bool discard_to_newline) {
    begin_ = scan_ = end_ = 0;
    discarding_ = discard_to_newline;
}

void LineFramer::shrink() {
    if (end_ == begin_) {
        begin_ = scan_ = end_ = 0;
        std::vector<char>().swap(buf_);
    }
}

}  // namespace ailog
