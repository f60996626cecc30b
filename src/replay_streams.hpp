// Replay streams: the decoded entries of one rotated set, in file order, one
// at a time. How the decoding is spread over threads is the stream's choice:
//   - on the calling thread (one set, one thread);
//   - on one thread of its own per set (several sets: their decoding runs
//     on all cores while the caller merges them);
//   - unwrapped on one thread and decoded on several (one set, several
//     cores), handed back in file order.
// Every stream yields the same entries in the same order and the same counts.
#pragma once

#include <cstdint>
#include <memory>

#include "ailog/clock.hpp"
#include "ailog/event.hpp"
#include "ailog/mapping.hpp"
#include "decode/line_decoder.hpp"
#include "sink/self_metrics.hpp"
#include "source/replay_files.hpp"

namespace ailog {

class EntryStream {
public:
    virtual ~EntryStream() = default;
    // The next entry into `head` (valid until the next advance()); false at
    // the end of the set.
    virtual bool advance() = 0;
    // Bytes of the set's files consumed so far (compressed bytes for .gz).
    virtual uint64_t disk_bytes_done() const = 0;
    // After the end: the lines, skips and bytes read, added to `stats`.
    virtual void add_totals(PipelineStats& stats) const = 0;
    const Event* head = nullptr;
};

enum class StreamThreads {
    Caller,   // decode on the thread that calls advance()
    Own,      // decode on one thread of the stream's own
    Workers,  // unwrap on one thread, decode on `workers` threads
};

// `stats`: the counts of a Caller stream go straight there (add_totals adds
// only the bytes); the other kinds keep their own until add_totals.
std::unique_ptr<EntryStream> make_entry_stream(StreamThreads threads, unsigned workers, const RotatedSet& set,
                                               const Mapping& mapping, const Clock& clock,
                                               const DecodeOptions& options, PipelineStats& stats);

}  // namespace ailog
