// PipelineStats: the exporter's own counts of what it read, kept in plain
// integers by the thread that reads (source, decode, the pipeline), published
// by the self-metrics, saved in the state file and shown in replay's summary.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "ailog/skip_reason.hpp"
#include "ailog/time_error.hpp"

namespace ailog {

struct PipelineStats {
    uint64_t lines = 0;
    uint64_t bytes = 0;
    uint64_t read_errors = 0;
    uint64_t entries_without_time = 0;
    // Entries whose own timestamp was unusable, by TimeError (index 0, None, unused).
    std::array<uint64_t, static_cast<size_t>(TimeError::kCount)> invalid_timestamps{};
    uint64_t entries_outside_window = 0;  // replay --from/--to
    std::array<uint64_t, static_cast<size_t>(SkipReason::kCount)> skipped{};
    double last_entry_ms = 0;  // log time of the last entry
    double last_read_ms = 0;   // wall time of the last line
    size_t files_watched = 0;
    uint64_t pending_bytes = 0;
    // Set by the tailer and the state writer.
    uint64_t rotations = 0;
    uint64_t truncations = 0;
    uint64_t state_writes = 0;
    uint64_t state_write_failures = 0;
    uint64_t state_series_dropped = 0;  // saved series of metrics the mapping removed or changed
    double last_state_write_ms = 0;     // wall time of the last committed state
};

}  // namespace ailog
