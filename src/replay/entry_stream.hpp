// Replay streams: the decoded entries of one rotated set, in file order, one
// at a time. How the decoding is spread over threads is the stream's choice:
//   - on the calling thread (one set, one thread);
//   - on threads shared by several sets, while the caller merges them;
//   - unwrapped on one thread and decoded on several (one set, several
//     cores), handed back in file order.
// Every stream yields the same entries in the same order and the same counts.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ailog/clock.hpp"
#include "ailog/event.hpp"
#include "ailog/mapping.hpp"
#include "ailog/pipeline_stats.hpp"
#include "decode/line_decoder.hpp"
#include "decode/timestamp.hpp"
#include "source/rotated_sets.hpp"

namespace ailog {

class EntryStream {
public:
    virtual ~EntryStream() = default;
    // The next entry into `head` (valid until the next advance()), and its
    // time into head_time_ms: a local time in a repeated hour takes the
    // occurrence nearest to the set's previous entry. False at the end of
    // the set.
    bool advance() {
        if (!next()) return false;
        head_time_ms = head->fold_ms != 0 ? resolve_fold(head->time_ms, head->fold_ms, head_time_ms) : head->time_ms;
        return true;
    }
    // Bytes of the set's files consumed so far (compressed bytes for .gz).
    virtual uint64_t disk_bytes_done() const = 0;
    // After the end: the lines, skips and bytes read, added to `stats`.
    virtual void add_totals(PipelineStats& stats) const = 0;
    const Event* head = nullptr;
    double head_time_ms = 0;

protected:
    virtual bool next() = 0;
};

// The streams of `sets`, decoded on `threads` threads in all, the caller's
// included:
//   - one: every set on the calling thread;
//   - one set: unwrapped on one thread and decoded on `threads`;
//   - several sets: decoded by threads shared between them, and by the
//     caller when the set it needs has nothing ready.
// `stats`: the counts of streams decoded on the calling thread go straight
// there (add_totals adds only the bytes); the others keep their own until
// add_totals.
std::vector<std::unique_ptr<EntryStream>> make_entry_streams(unsigned threads, const std::vector<RotatedSet>& sets,
                                                             std::span<const Mapping> mappings, const Clock& clock,
                                                             const DecodeOptions& options, PipelineStats& stats);

// The time of each set's first entry, read by one decoder set after set:
// -infinity where it was not found within the first lines (the set starts
// at once), +infinity for a set without entries (it is read last).
std::vector<double> first_entry_times(const std::vector<RotatedSet>& sets, std::span<const Mapping> mappings,
                                      const Clock& clock, const DecodeOptions& options);

// The decoder counts of a stream decoded on other threads, added to the
// pipeline's at its end.
void add_decoder_counts(PipelineStats& to, const PipelineStats& from);

// A set being read: its files' reader and the source its lines are decoded
// as. A stream holds one from its first entry to the end of the set.
struct SetInput {
    SetInput(const RotatedSet& set, std::span<const Mapping> mappings, const Clock& clock, const DecodeOptions& options,
             PipelineStats& stats)
        : reader(set, options.max_line_bytes),
          decoder(mappings, clock, options, stats),
          source(decoder.open_source(set.name)) {}
    SetReader reader;
    LineDecoder decoder;
    int source;
};

// The next line of `reader` within the line limit into `line`; the
// over-long ones on the way are counted on `decoder`. False at the end.
inline bool next_line(SetReader& reader, LineDecoder& decoder, int source, std::string_view& line, size_t& capacity) {
    for (;;) {
        switch (reader.next(line, capacity)) {
            case SetReader::Next::End:
                return false;
            case SetReader::Next::TooLong:
                decoder.too_long(source);
                continue;
            case SetReader::Next::Line:
                return true;
        }
    }
}

}  // namespace ailog
