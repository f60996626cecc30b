// Which reading strategy a replay's sets get, and what the strategies share.
#include "replay/entry_stream.hpp"

#include <algorithm>
#include <limits>

#include "replay/streams.hpp"

namespace ailog {

void add_decoder_counts(PipelineStats& to, const PipelineStats& from) {
    to.lines += from.lines;
    to.entries_without_time += from.entries_without_time;
    for (size_t r = 0; r < to.invalid_timestamps.size(); ++r) to.invalid_timestamps[r] += from.invalid_timestamps[r];
    for (size_t r = 0; r < to.skipped.size(); ++r) to.skipped[r] += from.skipped[r];
}

std::vector<double> first_entry_times(const std::vector<RotatedSet>& sets, std::span<const Mapping> mappings,
                                      const Clock& clock, const DecodeOptions& options) {
    // A set whose first entry is further in than this is started at once:
    // looking for it would read it twice.
    constexpr uint64_t kLookBytes = 4u << 20;
    constexpr double kInf = std::numeric_limits<double>::infinity();
    PipelineStats scratch;
    LineDecoder decoder(mappings, clock, options, scratch);
    std::vector<double> first;
    first.reserve(sets.size());
    for (const auto& set : sets) {
        SetReader reader(set, options.max_line_bytes);
        const int source = decoder.open_source(set.name);
        double t = kInf;
        bool found = false;
        std::string_view line;
        size_t cap = 0;
        while (!found && next_line(reader, decoder, source, line, cap)) {
            decoder.decode(source, line, cap, [&](const Event& e) {
                if (found) return;
                found = true;
                t = e.fold_ms != 0 ? resolve_fold(e.time_ms, e.fold_ms, 0) : e.time_ms;
            });
            if (!found && reader.bytes_read() > kLookBytes) {
                t = -kInf;
                break;
            }
        }
        decoder.close_source(source);
        first.push_back(t);
    }
    return first;
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
