// Replay: historic logs read once, in time order, through the same decode and
// derive stages as serve. Each rotated set is a stream with its own decoder;
// the streams are merged by entry timestamp, so correlation works across
// files and pods and samples come out in time order.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "ailog/clock.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "pipeline/pipeline.hpp"
#include "sink/openmetrics_writer.hpp"
#include "source/rotated_sets.hpp"

namespace ailog {

struct ReplayOptions {
    DecodeOptions decode;  // arrival_time_fallback is forced off; latest_ms is the replay's start or a later to_ms
    CorrelationTable::Limits correlation;
    std::optional<double> from_ms;
    std::optional<double> to_ms;
    unsigned threads = 0;  // decoding threads; 0: one per core
};

struct ReplayResult {
    uint64_t entries = 0;  // applied (inside the window)
    double first_ms = 0;   // earliest and latest of them
    double last_ms = 0;
};

class Replay {
public:
    Replay(std::span<const Mapping> mappings, MetricStore& store, const Clock& clock, ReplayOptions options,
           std::vector<RotatedSet> sets);

    // Reads everything. `sampler` (may be null) sees every entry before it is
    // applied; `progress(done, total)` is called now and then with disk bytes.
    ReplayResult run(OpenMetricsWriter* sampler, const std::function<void(uint64_t, uint64_t)>& progress);

    Pipeline& pipeline() { return pipeline_; }
    uint64_t total_bytes() const;

private:
    const Clock& clock_;
    Pipeline pipeline_;
    ReplayOptions options_;
    std::vector<RotatedSet> sets_;
};

}  // namespace ailog
