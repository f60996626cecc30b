// Pipeline: wiring of decode, derive and self-metrics, for serve and replay.
#include "pipeline/pipeline.hpp"

#include "source/rotated_sets.hpp"

#include <string>
#include <utility>

namespace ailog {

Pipeline::Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options)
    : mapping_(&mapping),
      store_(store),
      clock_(clock),
      options_(options),
      decoder_(mapping, clock, options.decode, stats_),
      deriver_(std::in_place, mapping, store, options.correlation),
      self_(std::in_place, store, mapping, deriver_->families()),
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
    self_->publish(stats_, deriver_->stats(), deriver_->correlation().size());
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

    // What carries over, taken before the old deriver goes.
    struct Open {
        KeyHash key;
        double start_ms;
        std::string input;
        std::optional<std::vector<std::string>> in_flight;
        Deriver::Carried carried;
    };
    std::vector<Open> open;
    const MetricSpec* old_gauge = old.correlation.in_flight_metric >= 0
                                      ? &old.metrics[static_cast<size_t>(old.correlation.in_flight_metric)]
                                      : nullptr;
    const MetricSpec* new_gauge = now.correlation.in_flight_metric >= 0
                                      ? &now.metrics[static_cast<size_t>(now.correlation.in_flight_metric)]
                                      : nullptr;
    // An open start still counts in the in-flight gauge only if the gauge is the same.
    const bool same_gauge = old_gauge && new_gauge && same_shape(*old_gauge, *new_gauge);
    deriver_->for_each_open_start([&](const KeyHash& key, double start_ms, const std::string& input,
                                      const std::vector<std::string>* labels, Deriver::Carried carried) {
        Open o{key, start_ms, input, std::nullopt, std::move(carried)};
        if (labels && same_gauge) o.in_flight = *labels;
        open.push_back(std::move(o));
    });
    const DeriveStats old_stats = deriver_->stats();
    const std::vector<std::pair<int, int>> old_limited = old.limited_labels();
    std::vector<int> old_families = deriver_->families();

    self_.reset();
    deriver_.reset();
    deriver_.emplace(now, store_, options_.correlation);
    // The in-flight gauge of open starts is restored, not counted again:
    // a changed gauge starts empty, and the starts do not count in it.
    for (size_t i = 0; i < old.metrics.size(); ++i) {
        const MetricSpec* kept = find_metric(now, old.metrics[i].name);
        if (kept == nullptr) store_.clear_family(old_families[i]);
    }
    if (old_gauge && !same_gauge) {
        const int f = store_.find_family(old_gauge->name);
        if (f >= 0) store_.clear_family(f);
    }
    self_.emplace(store_, now, deriver_->families());

    for (size_t s = 0; s < source_names_.size(); ++s)
        if (!source_names_[s].empty()) source_inputs_[s] = deriver_->open_input(source_names_[s]);
    for (const Open& o : open)
        deriver_->restore_open_start(o.key, o.start_ms, o.input, read_clock_ms_, o.in_flight ? &*o.in_flight : nullptr,
                                     o.carried);

    // Counts by kind and by limited label carry over by name.
    DeriveStats& d = deriver_->mutable_stats();
    d.evicted = old_stats.evicted;
    d.negative_durations = old_stats.negative_durations;
    for (size_t k = 0; k < now.kinds.size(); ++k)
        for (size_t j = 0; j < old.kinds.size(); ++j)
            if (now.kinds[k].name == old.kinds[j].name) {
                d.entries[k] = old_stats.entries[j];
                d.unmatched[k] = old_stats.unmatched[j];
            }
    const auto now_limited = now.limited_labels();
    for (size_t i = 0; i < now_limited.size(); ++i)
        for (size_t j = 0; j < old_limited.size(); ++j) {
            const MetricSpec& a = now.metrics[static_cast<size_t>(now_limited[i].first)];
            const MetricSpec& b = old.metrics[static_cast<size_t>(old_limited[j].first)];
            if (a.name == b.name && a.label_names[static_cast<size_t>(now_limited[i].second)] ==
                                        b.label_names[static_cast<size_t>(old_limited[j].second)])
                d.label_overflows[i] = old_stats.label_overflows[j];
        }

    decoder_.set_mapping(now);
    owned_mapping_ = std::move(mapping);
    mapping_ = owned_mapping_.get();
    publish();
}

}  // namespace ailog
