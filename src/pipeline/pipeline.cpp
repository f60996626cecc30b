// Pipeline: wiring of decode, derive and self-metrics, for serve and replay.
#include "pipeline/pipeline.hpp"

#include "source/rotated_sets.hpp"

namespace ailog {

Pipeline::Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options)
    : mapping_(mapping),
      clock_(clock),
      options_(options),
      decoder_(mapping, clock, options.decode, stats_),
      deriver_(mapping, store, options.correlation),
      self_(store, mapping, deriver_.families()),
      read_clock_ms_(clock.now_ms()) {}

int Pipeline::open_source(std::string_view name) {
    const int source = decoder_.open_source(name);
    if (source_inputs_.size() <= static_cast<size_t>(source)) source_inputs_.resize(static_cast<size_t>(source) + 1);
    source_inputs_[static_cast<size_t>(source)] =
        deriver_.open_input(name == "-" ? std::string("-") : rotated_set_name(std::string(name)));
    return source;
}

void Pipeline::close_source(int source) {
    deriver_.close_input(source_inputs_[static_cast<size_t>(source)]);
    decoder_.close_source(source);
}

void Pipeline::on_bytes(size_t n) {
    stats_.bytes += n;
    // One clock read per batch of lines, not per line.
    stats_.last_read_ms = clock_.now_ms();
    read_clock_ms_ = stats_.last_read_ms;
}

void Pipeline::on_read_error(int) {
    ++stats_.read_errors;
}

void Pipeline::on_batch_end(bool) {
    read_clock_ms_ = clock_.now_ms();
    if (options_.live) deriver_.expire_read(read_clock_ms_);
    publish();
}

void Pipeline::publish() {
    self_.publish(stats_, deriver_.stats(), deriver_.correlation().size());
}

}  // namespace ailog
