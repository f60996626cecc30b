// Pipeline: the stages of serve in one place. Lines from the sources are
// decoded into events (LineDecoder), events are derived into metric updates
// (Deriver), and the exporter's own counts are published with them. One
// Pipeline runs on one thread.
#pragma once

#include "ailog/clock.hpp"
#include "ailog/line_sink.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "decode/line_decoder.hpp"
#include "derive/deriver.hpp"
#include "sink/self_metrics.hpp"

namespace ailog {

struct PipelineOptions {
    DecodeOptions decode;
    CorrelationTable::Limits correlation;
    // When idle, forget starts older than the age limit by the wall clock
    // (live logs: an idle exporter has read everything up to now).
    bool expire_when_idle = true;
};

class Pipeline final : public LineSink {
public:
    Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options);

    int open_source(std::string_view name) override { return decoder_.open_source(name); }
    void close_source(int source) override { decoder_.close_source(source); }
    void on_line(int source, std::string_view line, size_t capacity) override {
        decoder_.decode(source, line, capacity, [this](const Event& e) { apply(e); });
    }
    void on_too_long(int source) override { decoder_.too_long(source); }
    void on_bytes(size_t n) override;
    void on_source_reset(int source) override { decoder_.reset_source(source); }
    void on_read_error(int source) override;
    void on_batch_end(bool idle) override;

    // Derives one decoded entry.
    void apply(const Event& e) {
        deriver_.apply(e);
        stats_.last_entry_ms = e.time_ms;
    }
    // Makes every count visible to scrapes.
    void publish();

    void set_files_watched(size_t n) { stats_.files_watched = n; }
    const PipelineStats& stats() const { return stats_; }
    PipelineStats& mutable_stats() { return stats_; }
    const Deriver& deriver() const { return deriver_; }
    Deriver& deriver() { return deriver_; }
    LineDecoder& decoder() { return decoder_; }
    const LineDecoder& decoder() const { return decoder_; }
    SelfMetrics& self_metrics() { return self_; }
    const Mapping& mapping() const { return mapping_; }

private:
    const Mapping& mapping_;
    const Clock& clock_;
    PipelineOptions options_;
    PipelineStats stats_;
    LineDecoder decoder_;
    Deriver deriver_;
    SelfMetrics self_;
};

}  // namespace ailog
