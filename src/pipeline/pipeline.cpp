// Pipeline: wiring of decode, derive and self-metrics, for serve and replay.
#include "pipeline/pipeline.hpp"

#include "source/rotated_sets.hpp"

#include <cassert>
#include <string>
#include <utility>

namespace ailog {

CorrelationTable::Limits correlation_limits(CorrelationTable::Limits flags, const Mapping& mapping) {
    if (mapping.correlation.max_entries) flags.max_entries = *mapping.correlation.max_entries;
    if (mapping.correlation.max_age_ms) flags.max_age_ms = *mapping.correlation.max_age_ms;
    return flags;
}

namespace {

std::vector<std::unique_ptr<Deriver>> make_derivers(std::span<const Mapping> mappings, MetricStore& store,
                                                    CorrelationTable::Limits limits) {
    std::vector<std::unique_ptr<Deriver>> out;
    for (const Mapping& m : mappings) out.push_back(std::make_unique<Deriver>(m, store, correlation_limits(limits, m)));
    return out;
}

std::vector<int> families_of(const std::vector<std::unique_ptr<Deriver>>& derivers) {
    std::vector<int> out;
    for (const auto& d : derivers) out.insert(out.end(), d->families().begin(), d->families().end());
    // The mappings' unpriced entries, one family however many price tokens.
    for (const auto& d : derivers)
        if (const int f = d->unpriced_family(); f >= 0 && std::find(out.begin(), out.end(), f) == out.end())
            out.push_back(f);
    return out;
}

}  // namespace

Pipeline::Pipeline(std::span<const Mapping> mappings, MetricStore& store, const Clock& clock, PipelineOptions options)
    : mappings_(mappings),
      store_(store),
      clock_(clock),
      options_(options),
      decoder_(mappings, clock, options.decode, stats_),
      derivers_(make_derivers(mappings, store, options.correlation)),
      self_(store, mappings, families_of(derivers_)),
      read_clock_ms_(clock.now_ms()) {}

std::vector<int> Pipeline::families() const {
    return families_of(derivers_);
}

uint32_t Pipeline::open_input(std::string_view name) {
    // Every deriver sees the same inputs opened and closed: the same ids.
    const uint32_t input = derivers_.front()->open_input(name);
    for (size_t i = 1; i < derivers_.size(); ++i) {
        [[maybe_unused]] const uint32_t same = derivers_[i]->open_input(name);
        assert(same == input);
    }
    return input;
}

int Pipeline::open_source(std::string_view name) {
    const int source = decoder_.open_source(name);
    if (source_inputs_.size() <= static_cast<size_t>(source)) source_inputs_.resize(static_cast<size_t>(source) + 1);
    if (source_names_.size() <= static_cast<size_t>(source)) source_names_.resize(static_cast<size_t>(source) + 1);
    source_names_[static_cast<size_t>(source)] = name == "-" ? std::string("-") : rotated_set_name(std::string(name));
    source_inputs_[static_cast<size_t>(source)] = open_input(source_names_[static_cast<size_t>(source)]);
    return source;
}

void Pipeline::close_source(int source) {
    for (auto& d : derivers_) d->close_input(source_inputs_[static_cast<size_t>(source)]);
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
    if (options_.live) expire_read(read_clock_ms_);
    publish();
}

void Pipeline::publish() {
    if (derivers_.size() == 1) return self_.publish(stats_, derivers_[0]->stats(), derivers_[0]->correlation().size());
    // Kinds and limited labels mapping by mapping, as the self-metrics list them.
    combined_.entries.clear();
    combined_.unmatched.clear();
    combined_.label_overflows.clear();
    combined_.evicted = {};
    combined_.negative_durations = 0;
    size_t open = 0;
    for (const auto& d : derivers_) {
        const DeriveStats& s = d->stats();
        combined_.entries.insert(combined_.entries.end(), s.entries.begin(), s.entries.end());
        combined_.unmatched.insert(combined_.unmatched.end(), s.unmatched.begin(), s.unmatched.end());
        combined_.label_overflows.insert(combined_.label_overflows.end(), s.label_overflows.begin(),
                                         s.label_overflows.end());
        combined_.add_exporter_counts(s);
        open += d->correlation().size();
    }
    self_.publish(stats_, combined_, open);
}

namespace {

bool same_shape(const MetricSpec& a, const MetricSpec& b) {
    return a.name == b.name && a.type == b.type && a.label_names == b.label_names && a.buckets == b.buckets;
}

bool has_metric(std::span<const Mapping> mappings, const std::string& name) {
    for (const Mapping& m : mappings)
        for (const auto& spec : m.metrics)
            if (spec.name == name) return true;
    return false;
}

const Mapping* find_mapping(std::span<const Mapping> mappings, const std::string& name) {
    for (const Mapping& m : mappings)
        if (m.name == name) return &m;
    return nullptr;
}

// The in-flight gauge of `old` is the same in `now`.
bool same_gauge(const Mapping& old, const Mapping& now) {
    const int a = old.correlation.in_flight_metric;
    const int b = now.correlation.in_flight_metric;
    return a >= 0 && b >= 0 && same_shape(old.metrics[static_cast<size_t>(a)], now.metrics[static_cast<size_t>(b)]);
}

// Counts by kind and by limited label carry over by name, from whichever
// mapping had them.
void carry_counts(std::span<const Mapping> old, const std::vector<std::unique_ptr<Deriver>>& was, const Mapping& now,
                  DeriveStats& d) {
    const auto now_limited = now.limited_labels();
    for (size_t i = 0; i < old.size(); ++i) {
        const Mapping& o = old[i];
        const DeriveStats& w = was[i]->stats();
        for (size_t k = 0; k < now.kinds.size(); ++k)
            for (size_t j = 0; j < o.kinds.size(); ++j)
                if (now.kinds[k].name == o.kinds[j].name) {
                    d.entries[k] = w.entries[j];
                    d.unmatched[k] = w.unmatched[j];
                }
        const auto old_limited = o.limited_labels();
        for (size_t a = 0; a < now_limited.size(); ++a)
            for (size_t b = 0; b < old_limited.size(); ++b) {
                const MetricSpec& x = now.metrics[static_cast<size_t>(now_limited[a].first)];
                const MetricSpec& y = o.metrics[static_cast<size_t>(old_limited[b].first)];
                if (x.name == y.name && x.label_names[static_cast<size_t>(now_limited[a].second)] ==
                                            y.label_names[static_cast<size_t>(old_limited[b].second)])
                    d.label_overflows[a] = w.label_overflows[b];
            }
    }
}

}  // namespace

void Pipeline::reload(std::shared_ptr<const Mappings> mappings) {
    const std::span<const Mapping> old = mappings_;
    const std::span<const Mapping> now = *mappings;

    // Families of metrics whose shape changed are emptied by add_family here.
    auto next = make_derivers(now, store_, options_.correlation);
    for (size_t s = 0; s < source_names_.size(); ++s)
        if (!source_names_[s].empty())
            for (auto& d : next) source_inputs_[s] = d->open_input(source_names_[s]);  // the same ids in each
    for (size_t i = 0; i < now.size(); ++i) {
        carry_counts(old, derivers_, now[i], next[i]->mutable_stats());
        // Open starts stay with the mapping of the same name; they still
        // count in the in-flight gauge only if it is the same gauge.
        for (size_t j = 0; j < old.size(); ++j)
            if (old[j].name == now[i].name) next[i]->adopt_open_starts(*derivers_[j], same_gauge(old[j], now[i]));
    }
    // Counts of the whole exporter, kept by the first deriver.
    DeriveStats& first = next.front()->mutable_stats();
    for (const auto& d : derivers_) first.add_exporter_counts(d->stats());

    // The series of removed metrics go, and a changed gauge's (its starts no longer count in it).
    for (size_t j = 0; j < old.size(); ++j) {
        const Mapping* kept = find_mapping(now, old[j].name);
        const int gauge = old[j].correlation.in_flight_metric;
        const std::vector<int>& families = derivers_[j]->families();
        for (size_t i = 0; i < old[j].metrics.size(); ++i)
            if (!has_metric(now, old[j].metrics[i].name) ||
                (static_cast<int>(i) == gauge && (kept == nullptr || !same_gauge(old[j], *kept))))
                store_.clear_family(families[i]);
    }
    derivers_ = std::move(next);
    self_.remap(now, families_of(derivers_));
    decoder_.set_mappings(now);
    owned_mappings_ = std::move(mappings);
    mappings_ = *owned_mappings_;
    publish();
}

}  // namespace ailog
