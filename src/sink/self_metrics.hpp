// SelfMetrics: ailog_exporter_* series that say how the exporter itself is
// doing, so a dashboard can tell a quiet service from a blind exporter.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "ailog/pipeline_stats.hpp"
#include "ailog/skip_reason.hpp"
#include "ailog/time_error.hpp"
#include "derive/deriver.hpp"

namespace ailog {

class SelfMetrics {
public:
    // `metric_families`: the store's family of each metric of the mappings,
    // mapping by mapping.
    SelfMetrics(MetricStore& store, std::span<const Mapping> mappings, const std::vector<int>& metric_families);

    // Pipeline thread. `d`: entries and label overflows of the mappings'
    // kinds and limited labels, mapping by mapping.
    void publish(const PipelineStats& p, const DeriveStats& d, size_t open_starts);
    // Scrape threads: values read from the process and the store.
    void refresh_process();
    // Pipeline thread: the series by entry kind, metric and limited label
    // of another mapping (a reload). The process_* series, read by scrape
    // threads, are untouched.
    void remap(std::span<const Mapping> mappings, const std::vector<int>& metric_families);
    // The outcome of loading the mapping (at start and on each reload); the
    // series outlive this object, kept by the store across reloads.
    void config_loaded(bool ok, double now_s);

private:
    MetricStore& store_;
    Series* lines_;
    Series* bytes_;
    Series* read_errors_;
    Series* without_time_;
    std::array<Series*, static_cast<size_t>(TimeError::kCount)> invalid_timestamps_{};
    std::array<Series*, static_cast<size_t>(SkipReason::kCount)> skipped_{};
    std::vector<Series*> entries_;
    std::vector<Series*> unmatched_;  // nullptr for start kinds
    std::array<Series*, 3> evicted_{};
    Series* negative_durations_;
    Series* open_starts_;
    Series* last_entry_;
    Series* last_read_;
    Series* files_;
    Series* series_;
    Series* series_limit_;
    Series* pending_bytes_;
    Series* rotations_;
    Series* truncations_;
    Series* state_writes_;
    Series* state_write_failures_;
    Series* last_state_write_;
    Series* state_dropped_;
    std::vector<std::pair<int, Series*>> dropped_;  // family -> counter
    std::vector<Series*> label_overflows_;          // per Mapping::limited_labels()
    int entries_family_ = -1;
    int unmatched_family_ = -1;
    int dropped_family_ = -1;
    int overflow_family_ = -1;  // registered once a mapping bounds a label
    Series* start_time_;
    Series* cpu_;
    Series* rss_;
    Series* fds_;
    Series* reload_ok_ = nullptr;  // registered by config_loaded()
    Series* reload_time_ = nullptr;
};

}  // namespace ailog
