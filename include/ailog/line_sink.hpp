// LineSink: what a source hands its complete lines to.
#pragma once

#include <cstddef>
#include <string_view>

namespace ailog {

class LineSink {
public:
    virtual ~LineSink() = default;
    // A new input (file or stdin); returns the id its lines are tagged with.
    virtual int open_source(std::string_view name) = 0;
    // The input is done; its id may be given to a later input.
    virtual void close_source(int source) = 0;
    // A complete line of `source`, without its line ending; `capacity`
    // readable bytes from line.data() (at least line.size() + 64).
    virtual void on_line(int source, std::string_view line, size_t capacity) = 0;
    // A line over the length limit, dropped whole.
    virtual void on_too_long(int source) = 0;
    virtual void on_bytes(size_t n) = 0;
    // The source starts over (truncated or replaced): drop partial records.
    virtual void on_source_reset(int source) = 0;
    virtual void on_read_error(int source) = 0;
    // End of a round of reading; `idle`: nothing was left to read.
    virtual void on_batch_end(bool idle) = 0;
};

}  // namespace ailog
