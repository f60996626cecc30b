// Pipeline: wiring of decode, derive and self-metrics for serve.
#include "pipeline.hpp"

namespace ailog {

Pipeline::Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options)
    : mapping_(mapping),
      clock_(clock),
      options_(options),
      decoder_(mapping, clock, options.decode, stats_),
      deriver_(mapping, store, options.correlation),
      self_(store, mapping, deriver_.families()) {}

void Pipeline::on_bytes(size_t n) {
    stats_.bytes += n;
    // One clock read per batch of lines, not per line.
    stats_.last_read_ms = clock_.now_ms();
}

void Pipeline::on_read_error(int) {
    ++stats_.read_errors;
}

void Pipeline::on_batch_end(bool idle) {
    if (idle && options_.expire_when_idle) deriver_.expire(clock_.now_ms());
    publish();
}

void Pipeline::publish() {
    self_.publish(stats_, deriver_.stats(), deriver_.correlation().size());
}

}  // namespace ailog
