// OpenMetricsWriter: the history of every series, sampled at each multiple of
// the step, in the OpenMetrics text format with timestamps (the input of
// `promtool tsdb create-blocks-from openmetrics`).
//
// The value at a sample time is what the live exporter would have served then
// (every entry with a timestamp at or before it). A series starts with a zero
// sample one step before its first increase, so rate() and increase() count
// its first events. Samples are taken at every step while entries arrive and
// for at most `max_gap` after an entry; a longer silence is skipped and
// sampling resumes at the last step before the next entry, so one stray
// entry years away from the others costs a bounded number of samples.
//
// A replay of a time window (from, to] samples only inside it: after `from`
// (a series' zero sample too, at the latest 1 ms after it) and up to `to` at
// most (the last sample at `to` itself when it falls between two steps), so
// the outputs of windows that meet imported together hold each instant once,
// and each series restarts from zero after the seam as after a restart.
// Samples go to one temporary file per family while
// the logs are read (memory stays flat however long the history), and the families are joined at the end, each one
// contiguous.
#pragma once

#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ailog/metric_store.hpp"

namespace ailog {

class OpenMetricsWriter {
public:
    // `before_sample(boundary_ms)` (may be empty) runs before each sample, so
    // the caller can bring time-driven state (expiry) up to that instant.
    OpenMetricsWriter(const MetricStore& store, std::vector<int> families, double step_ms, double max_gap_ms,
                      std::function<void(double)> before_sample = {});
    ~OpenMetricsWriter();
    OpenMetricsWriter(const OpenMetricsWriter&) = delete;
    OpenMetricsWriter& operator=(const OpenMetricsWriter&) = delete;

    // The window of the replay (either may be infinite); before the first entry.
    void set_window(double from_ms, double to_ms) {
        from_ms_ = from_ms;
        to_ms_ = to_ms;
    }
    // Call before applying an entry timestamped `time_ms` (entries in time
    // order): samples every step boundary before it.
    void before_entry(double time_ms);
    // After the last entry: samples up to the first boundary at or after it.
    void finish(double last_time_ms);
    // Writes the families and "# EOF"; throws std::runtime_error on a write error.
    void write(std::FILE* out);
    uint64_t samples_written() const { return samples_; }

private:
    struct FamilyOut;
    void sample_at(double boundary_ms);

    const MetricStore& store_;
    std::vector<std::unique_ptr<FamilyOut>> families_;
    double step_ms_;
    double max_gap_ms_;
    std::function<void(double)> before_sample_;
    double next_boundary_ms_ = -1;  // -1: before the first entry
    double last_entry_ms_ = -1;
    double from_ms_ = -std::numeric_limits<double>::infinity();
    double to_ms_ = std::numeric_limits<double>::infinity();
    uint64_t samples_ = 0;
    std::string line_;
};

}  // namespace ailog
