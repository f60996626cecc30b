// Pipeline: decode and derive wired on one thread, for serve and replay.
// Lines from the sources are decoded into events (LineDecoder), events are
// derived into metric updates (Deriver), and the exporter's own counts are
// published with them.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
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
    // Every line is decoded by each of `mappings` (kept alive by the
    // caller), and each mapping's entries derived by a Deriver of its own.
    Pipeline(std::span<const Mapping> mappings, MetricStore& store, const Clock& clock, PipelineOptions options);
    Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options)
        : Pipeline(std::span<const Mapping>(&mapping, 1), store, clock, options) {}

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
                 e.fold_ms != 0 ? resolve_fold(e.time_ms, e.fold_ms, derivers_[e.mapping]->input_last_ms(input))
                                : e.time_ms);
    }
    // The same, with the entry's time already resolved.
    void apply_at(const Event& e, uint32_t input, double time_ms) {
        // A replay reads an entry at its own time, on a clock that, like an
        // input's, one stray entry far ahead does not move.
        const double read_ms = options_.live ? read_clock_ms_ : replay_clock_.advance(time_ms);
        derivers_[e.mapping]->apply(e, input, time_ms, read_ms);
        stats_.last_entry_ms = time_ms;
    }
    // An entry before a replayed window, for the open starts only (Deriver::lead_in).
    void lead_in(const Event& e, uint32_t input, double time_ms) {
        derivers_[e.mapping]->lead_in(e, input, time_ms, replay_clock_.advance(time_ms));
    }
    // The longest age limit of open starts of the mappings: how far before a
    // window its lead-in reaches.
    double longest_max_age_ms() const {
        double ms = 0;
        for (const auto& d : derivers_) ms = std::max(ms, d->max_age_ms());
        return ms;
    }
    // Makes every count visible to scrapes.
    void publish();
    // An input of every deriver (Deriver::open_input), for entries applied
    // by apply() rather than read from a source.
    uint32_t open_input(std::string_view name);
    // Forgets starts read before read_now_ms minus the age limit.
    void expire_read(double read_now_ms) {
        for (auto& d : derivers_) d->expire_read(read_now_ms);
    }

    void set_files_watched(size_t n) { stats_.files_watched = n; }
    const PipelineStats& stats() const { return stats_; }
    PipelineStats& mutable_stats() { return stats_; }
    // The deriver of mappings()[i].
    const Deriver& deriver(size_t i = 0) const { return *derivers_[i]; }
    Deriver& deriver(size_t i = 0) { return *derivers_[i]; }
    LineDecoder& decoder() { return decoder_; }
    const LineDecoder& decoder() const { return decoder_; }
    SelfMetrics& self_metrics() { return self_; }
    std::span<const Mapping> mappings() const { return mappings_; }
    // The store's families of every mapping's metrics, mapping by mapping.
    std::vector<int> families() const;

    // From the next line on, decodes and derives by `mappings`. Series of
    // metrics it keeps unchanged (type, labels, buckets) keep their values;
    // the others are emptied. Open starts (of a mapping of the same name),
    // inputs and counts carry over.
    void reload(std::shared_ptr<const Mappings> mappings);

private:
    std::span<const Mapping> mappings_;
    std::shared_ptr<const Mappings> owned_mappings_;  // after a reload
    MetricStore& store_;
    const Clock& clock_;
    PipelineOptions options_;
    PipelineStats stats_;
    LineDecoder decoder_;
    std::vector<std::unique_ptr<Deriver>> derivers_;  // one per mapping; replaced by a reload
    DeriveStats combined_;  // several mappings: their derivers' counts side by side, for the self-metrics
    SelfMetrics self_;
    std::vector<uint32_t> source_inputs_;    // by source
    std::vector<std::string> source_names_;  // by source; "" when closed
    double read_clock_ms_;                   // wall time, read once per batch of lines
    EntryClock replay_clock_;                // replay: the entries applied
};

}  // namespace ailog
