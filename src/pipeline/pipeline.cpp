// Pipeline: wiring of decode, derive and self-metrics, for serve and replay.
#include "pipeline/pipeline.hpp"

#include "source/rotated_sets.hpp"

#include <string>
#include <utility>

namespace ailog {

CorrelationTable::Limits correlation_limits(CorrelationTable::Limits flags, const Mapping& mapping) {
    if (mapping.correlation.max_entries) flags.max_entries = *mapping.correlation.max_entries;
    if (mapping.correlation.max_age_ms) flags.max_age_ms = *mapping.correlation.max_age_ms;
    return flags;
}

Pipeline::Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options)
    : mapping_(&mapping),
      store_(store),
      clock_(clock),
      options_(options),
      decoder_(mapping, clock, options.decode, stats_),
      deriver_(std::make_unique<Deriver>(mapping, store, correlation_limits(options.correlation, mapping))),
      self_(store, mapping, deriver_->families()),
      read_clock_ms_(clock.now_ms()) {}

int Pipeline::open_source(std::string_view name) {
    const int source = decoder_.open_source(name);
    if (source_inputs_.size() <= static_cast<size_t>(source)) source_inputs_.resize(static_cast<size_t>(source) + 1);
    if (source_names_.size() <= static_cast<size_t>(source)) source_names_.resize(static_cast<size_t>(source) + 1);
    source_names_[static_cast<size_t>(source)] = name == "-" ? std::string("-") : rotated_set_name(std::string(name));
    source_inputs_[static_cast<size_t>(source)] = deriver_->open_input(source_names_[static_cast<size_t>(source)]);
    return source;
}

void Pipeline::close_source(int source) {
    deriver_->close_input(source_inputs_[static_cast<size_t>(source)]);
    source_names_[static_cast<size_t>(source)].clear();
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
    if (options_.live) deriver_->expire_read(read_clock_ms_);
    publish();
}

void Pipeline::publish() {
    self_.publish(stats_, deriver_->stats(), deriver_->correlation().size());
}

namespace {

bool same_shape(const MetricSpec& a, const MetricSpec& b) {
    return a.name == b.name && a.type == b.type && a.label_names == b.label_names && a.buckets == b.buckets;
}

const MetricSpec* find_metric(const Mapping& m, const std::string& name) {
    for (const auto& spec : m.metrics)
        if (spec.name == name) return &spec;
    return nullptr;
}

}  // namespace

void Pipeline::reload(std::shared_ptr<const Mapping> mapping) {
    const Mapping& old = *mapping_;
    const Mapping& now = *mapping;
    const int old_gauge = old.correlation.in_flight_metric;
    const int new_gauge = now.correlation.in_flight_metric;
    // Open starts still count in the in-flight gauge only if it is the same gauge.
    const bool same_gauge =
        old_gauge >= 0 && new_gauge >= 0 &&
        same_shape(old.metrics[static_cast<size_t>(old_gauge)], now.metrics[static_cast<size_t>(new_gauge)]);

    // Families of metrics whose shape changed are emptied by add_family here.
    auto next = std::make_unique<Deriver>(now, store_, correlation_limits(options_.correlation, now));
    for (size_t s = 0; s < source_names_.size(); ++s)
        if (!source_names_[s].empty()) source_inputs_[s] = next->open_input(source_names_[s]);
    next->adopt_open_starts(*deriver_, same_gauge);

    // Counts carry over: by kind and by limited label, by name.
    const DeriveStats& was = deriver_->stats();
    DeriveStats& d = next->mutable_stats();
    d.evicted = was.evicted;
    d.negative_durations = was.negative_durations;
    for (size_t k = 0; k < now.kinds.size(); ++k)
        for (size_t j = 0; j < old.kinds.size(); ++j)
            if (now.kinds[k].name == old.kinds[j].name) {
                d.entries[k] = was.entries[j];
                d.unmatched[k] = was.unmatched[j];
            }
    const auto old_limited = old.limited_labels();
    const auto now_limited = now.limited_labels();
    for (size_t i = 0; i < now_limited.size(); ++i)
        for (size_t j = 0; j < old_limited.size(); ++j) {
            const MetricSpec& a = now.metrics[static_cast<size_t>(now_limited[i].first)];
            const MetricSpec& b = old.metrics[static_cast<size_t>(old_limited[j].first)];
            if (a.name == b.name && a.label_names[static_cast<size_t>(now_limited[i].second)] ==
                                        b.label_names[static_cast<size_t>(old_limited[j].second)])
                d.label_overflows[i] = was.label_overflows[j];
        }

    const std::vector<int> old_families = deriver_->families();
    deriver_ = std::move(next);
    // The series of removed metrics go, and a changed gauge's (its starts no longer count in it).
    for (size_t i = 0; i < old.metrics.size(); ++i)
        if (find_metric(now, old.metrics[i].name) == nullptr || (static_cast<int>(i) == old_gauge && !same_gauge))
            store_.clear_family(old_families[i]);
    self_.remap(now, deriver_->families());
    decoder_.set_mapping(now);
    owned_mapping_ = std::move(mapping);
    mapping_ = owned_mapping_.get();
    publish();
}

}  // namespace ailog
