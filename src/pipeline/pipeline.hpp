// Pipeline: decode and derive wired on one thread, for serve and replay.
// Lines from the sources are decoded into events (LineDecoder), events are
// derived into metric updates (Deriver), and the exporter's own counts are
// published with them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ailog/clock.hpp"
#include "ailog/line_sink.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "decode/line_decoder.hpp"
#include "decode/timestamp.hpp"
#include "derive/deriver.hpp"
#include "sink/self_metrics.hpp"

namespace ailog {

struct PipelineOptions {
    DecodeOptions decode;
    CorrelationTable::Limits correlation;
    // Live inputs (serve): a start's age is also the wall time since it was
    // read, checked at every batch, idle or not. Replay: log time only (the
    // time a start was "read" is its own log time).
    bool live = true;
};

// The bounds of open starts: the mapping's where it sets them, else the flags'.
CorrelationTable::Limits correlation_limits(CorrelationTable::Limits flags, const Mapping& mapping);

class Pipeline final : public LineSink {
public:
    Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options);

    // A source is one file or stdin; the files of one rotated set are one
    // input (their correlation ids and clock are the same).
    int open_source(std::string_view name) override;
    void close_source(int source) override;
    void on_line(int source, std::string_view line, size_t capacity) override {
        const uint32_t input = source_inputs_[static_cast<size_t>(source)];
        decoder_.decode(source, line, capacity, [this, input](const Event& e) { apply(e, input); });
    }
    void on_too_long(int source) override { decoder_.too_long(source); }
    void on_bytes(size_t n) override;
    void on_source_reset(int source) override { decoder_.reset_source(source); }
    void on_read_error(int source) override;
    void on_batch_end(bool idle) override;

    // Derives one decoded entry of `input` (a Deriver input), in the
    // input's order. A local time in a repeated hour takes the occurrence
    // nearest to the input's previous entry.
    void apply(const Event& e, uint32_t input) {
        apply_at(e, input,
                 e.fold_ms != 0 ? resolve_fold(e.time_ms, e.fold_ms, deriver_->input_last_ms(input)) : e.time_ms);
    }
    // The same, with the entry's time already resolved.
    void apply_at(const Event& e, uint32_t input, double time_ms) {
        // A replay reads an entry at its own time, on a clock that, like an
        // input's, one stray entry far ahead does not move.
        const double read_ms = options_.live ? read_clock_ms_ : replay_clock_.advance(time_ms);
        deriver_->apply(e, input, time_ms, read_ms);
        stats_.last_entry_ms = time_ms;
    }
    // Makes every count visible to scrapes.
    void publish();

    void set_files_watched(size_t n) { stats_.files_watched = n; }
    const PipelineStats& stats() const { return stats_; }
    PipelineStats& mutable_stats() { return stats_; }
    const Deriver& deriver() const { return *deriver_; }
    Deriver& deriver() { return *deriver_; }
    LineDecoder& decoder() { return decoder_; }
    const LineDecoder& decoder() const { return decoder_; }
    SelfMetrics& self_metrics() { return self_; }
    const Mapping& mapping() const { return *mapping_; }

    // From the next line on, decodes and derives by `mapping`. Series of
    // metrics it keeps unchanged (type, labels, buckets) keep their values;
    // the others are emptied. Open starts, inputs and counts carry over.
    void reload(std::shared_ptr<const Mapping> mapping);

private:
    const Mapping* mapping_;
    std::shared_ptr<const Mapping> owned_mapping_;  // after a reload
    MetricStore& store_;
    const Clock& clock_;
    PipelineOptions options_;
    PipelineStats stats_;
    LineDecoder decoder_;
    std::unique_ptr<Deriver> deriver_;  // replaced by a reload
    SelfMetrics self_;
    std::vector<uint32_t> source_inputs_;    // by source
    std::vector<std::string> source_names_;  // by source; "" when closed
    double read_clock_ms_;                   // wall time, read once per batch of lines
    EntryClock replay_clock_;                // replay: the entries applied
};

}  // namespace ailog
