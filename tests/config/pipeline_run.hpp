// A pipeline over a mapping file's mappings, for the mapping tests: lines in,
// the exposition out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ailog/clock.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "pipeline/pipeline.hpp"
#include "test_util.hpp"

namespace ailog::test {

struct FixedClock final : Clock {
    explicit FixedClock(double ms) : ms_(ms) {}
    double now_ms() const override { return ms_; }

private:
    double ms_;
};

struct PipelineRun {
    Mappings mappings;
    MetricStore store;
    FixedClock clock;
    Pipeline pipeline;
    int source;  // app.log, opened first

    explicit PipelineRun(Mappings m, PipelineOptions options = {}, double now_ms = 1748779300000.0)
        : mappings(std::move(m)),
          clock(now_ms),
          pipeline(mappings, store, clock, options),
          source(pipeline.open_source("app.log")) {}

    // One line of app.log, then the self-metrics are published.
    void feed(const std::string& line) { feed(source, {line}); }
    void feed(int input, const std::vector<std::string>& lines) {
        for (const auto& l : lines) {
            Padded p(l);
            pipeline.on_line(input, p.view(), p.capacity());
        }
        pipeline.publish();
    }
    // The exposition, without the series whose names start with skip_prefix.
    std::string text(std::string_view skip_prefix = {}) const {
        std::string out;
        store.render(out, skip_prefix);
        return out;
    }
};

}  // namespace ailog::test
