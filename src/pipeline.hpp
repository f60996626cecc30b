// Pipeline: the stages in one place. Lines from the sources are unwrapped and
// decoded into events, events are derived into metric updates, and the
// exporter's own counts are published with them. One Pipeline runs on one
// thread.
#pragma once

#include <simdjson.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "ailog/clock.hpp"
#include "ailog/event.hpp"
#include "ailog/line_sink.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "decode/json_decoder.hpp"
#include "decode/wrapper.hpp"
#include "derive/deriver.hpp"
#include "sink/self_metrics.hpp"

namespace ailog {

struct PipelineOptions {
    WrapperKind wrapper = WrapperKind::Auto;
    size_t max_line_bytes = 1 << 20;
    CorrelationTable::Limits correlation;
    // Entries without a timestamp: use arrival time (serve) or skip them.
    bool arrival_time_fallback = true;
    // When idle, forget starts older than the age limit by the wall clock
    // (live logs: an idle exporter has read everything up to now).
    bool expire_when_idle = true;
};

class Pipeline final : public LineSink {
public:
    Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options);

    int open_source(std::string_view name) override;
    void close_source(int source) override;
    void set_files_watched(size_t n) { stats_.files_watched = n; }

    // A source's decoding state, for the state file: the wrapper detected
    // and the partial records being joined.
    struct SourceSnapshot {
        std::string wrapper;  // "" while undetected
        std::string partial_stdout;
        std::string partial_stderr;
    };
    SourceSnapshot snapshot_source(int source) const;
    void restore_source(int source, const SourceSnapshot& s);

    void on_line(int source, std::string_view line, size_t capacity) override;
    void on_too_long(int source) override;
    void on_bytes(size_t n) override;
    void on_source_reset(int source) override;
    void on_read_error(int source) override;
    void on_batch_end(bool idle) override;

    // Makes every count visible to scrapes.
    void publish();

    const PipelineStats& stats() const { return stats_; }
    PipelineStats& mutable_stats() { return stats_; }
    const Deriver& deriver() const { return deriver_; }
    Deriver& deriver() { return deriver_; }
    SelfMetrics& self_metrics() { return self_; }
    const Mapping& mapping() const { return mapping_; }

private:
    void skip(int source, SkipReason reason, std::string_view line);

    const Mapping& mapping_;
    const Clock& clock_;
    PipelineOptions options_;
    JsonDecoder decoder_;
    simdjson::ondemand::parser wrapper_parser_;
    Deriver deriver_;
    SelfMetrics self_;
    Event event_;
    PipelineStats stats_;
    std::vector<std::string> source_names_;
    std::vector<Unwrapper> unwrappers_;
    std::vector<int> free_sources_;
    // Rate limit for warnings about bad lines: one per reason per second.
    std::array<double, static_cast<size_t>(SkipReason::kCount)> last_warned_ms_{};
    std::array<uint64_t, static_cast<size_t>(SkipReason::kCount)> suppressed_{};
};

}  // namespace ailog
