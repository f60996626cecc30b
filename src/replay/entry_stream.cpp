// Which reading strategy a replay's sets get, and what the strategies share.
#include "replay/entry_stream.hpp"

#include <algorithm>

#include "replay/streams.hpp"

namespace ailog {

void add_decoder_counts(PipelineStats& to, const PipelineStats& from) {
    to.lines += from.lines;
    to.entries_without_time += from.entries_without_time;
    for (size_t r = 0; r < to.invalid_timestamps.size(); ++r) to.invalid_timestamps[r] += from.invalid_timestamps[r];
    for (size_t r = 0; r < to.skipped.size(); ++r) to.skipped[r] += from.skipped[r];
}

std::vector<std::unique_ptr<EntryStream>> make_entry_streams(unsigned threads, const std::vector<RotatedSet>& sets,
                                                             std::span<const Mapping> mappings, const Clock& clock,
                                                             const DecodeOptions& options, PipelineStats& stats) {
    std::vector<std::unique_ptr<EntryStream>> streams;
    if (threads <= 1) {
        for (const auto& set : sets) streams.push_back(make_direct_stream(set, mappings, clock, options, stats));
    } else if (sets.size() == 1) {
        streams.push_back(make_parallel_stream(threads, sets[0], mappings, clock, options));
    } else {
        // The merging thread decodes too: one worker fewer than the threads,
        // and no more than one per set.
        const auto workers = static_cast<unsigned>(std::min<size_t>(threads - 1, sets.size()));
        streams = make_pooled_streams(workers, sets, mappings, clock, options);
    }
    return streams;
}

}  // namespace ailog
