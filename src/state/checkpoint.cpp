// Checkpoint: State <-> pipeline, store, tailer.
#include "state/checkpoint.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <map>
#include <string>

#include "common/hash.hpp"

namespace ailog {
namespace {

// The exporter's own counters, by stable name. d[i]: the counts of
// mappings[i]; those of the whole exporter are d[0]'s.
template <class Visit>
void visit_counters(PipelineStats& p, std::span<DeriveStats* const> ds, std::span<const Mapping> mappings,
                    Visit&& visit) {
    visit("lines_read", p.lines);
    visit("bytes_read", p.bytes);
    visit("read_errors", p.read_errors);
    visit("entries_without_timestamp", p.entries_without_time);
    for (size_t r = 1; r < p.invalid_timestamps.size(); ++r)
        visit(fmt::format("invalid_timestamps/{}", kTimeErrorNames[r]), p.invalid_timestamps[r]);
    visit("rotations", p.rotations);
    visit("truncations", p.truncations);
    visit("state_writes", p.state_writes);
    visit("state_write_failures", p.state_write_failures);
    visit("state_series_dropped", p.state_series_dropped);
    for (size_t r = 0; r < p.skipped.size(); ++r) visit(fmt::format("skipped/{}", kSkipReasonNames[r]), p.skipped[r]);
    static constexpr const char* kEvict[] = {"age", "capacity", "replaced"};
    for (size_t r = 0; r < ds[0]->evicted.size(); ++r) visit(fmt::format("evicted/{}", kEvict[r]), ds[0]->evicted[r]);
    visit("negative_durations", ds[0]->negative_durations);
    for (size_t i = 0; i < mappings.size(); ++i) {
        const Mapping* mapping = &mappings[i];
        DeriveStats& d = *ds[i];
        for (size_t k = 0; k < mapping->kinds.size(); ++k) {
            visit(fmt::format("entries/{}", mapping->kinds[k].name), d.entries[k]);
            visit(fmt::format("unmatched/{}", mapping->kinds[k].name), d.unmatched[k]);
        }
        const auto limited = mapping->limited_labels();
        for (size_t i = 0; i < limited.size() && i < d.label_overflows.size(); ++i) {
            const MetricSpec& metric = mapping->metrics[static_cast<size_t>(limited[i].first)];
            visit(fmt::format("label_overflows/{}/{}", metric.name,
                              metric.label_names[static_cast<size_t>(limited[i].second)]),
                  d.label_overflows[i]);
        }
    }
}

}  // namespace

std::string family_shape(const MetricStore::Family& f) {
    std::string text = fmt::format("{}", static_cast<int>(f.type));
    for (const auto& l : f.label_names) text += fmt::format("\x1f{}", l);
    text += '\x1e';
    for (const auto& b : f.bucket_text) text += fmt::format("\x1f{}", b);
    return fmt::format("{:016x}", hash64(text, 0x5eed));
}

std::string mapping_hash(std::span<const Mapping> mappings) {
    std::string text;
    for (const Mapping& m : mappings) {
        if (!m.name.empty()) text += fmt::format("mapping\x1f{}\x1e", m.name);
        for (const auto& metric : m.metrics) {
            text += fmt::format("{}\x1f{}", metric.name, static_cast<int>(metric.type));
            for (const auto& l : metric.label_names) text += fmt::format("\x1f{}", l);
            for (double b : metric.buckets) text += fmt::format("\x1f{}", b);
            text += '\x1e';
        }
        for (const auto& k : m.kinds) text += fmt::format("{}\x1f{}\x1e", k.name, static_cast<int>(k.role));
    }
    const auto h = hash64x2(text, 0x6d61, 0x7070);
    return fmt::format("{:016x}{:016x}", h[0], h[1]);
}

State capture_state(const Pipeline& pipeline, const MetricStore& store, const std::vector<int>& families,
                    const std::vector<FilePosition>& positions, double now_ms) {
    State s;
    s.written_at_ms = now_ms;
    s.mapping = mapping_hash(pipeline.mappings());
    s.last_entry_ms = pipeline.stats().last_entry_ms;
    for (const auto& p : positions) {
        FileState f;
        static_cast<FileIdentity&>(f) = p;
        static_cast<SourceState&>(f) = pipeline.decoder().snapshot_source(p.source);
        s.files.push_back(std::move(f));
    }
    // Only the pipeline thread creates series, and this is it: no lock needed.
    for (int fi : families) {
        const auto& fam = *store.families()[static_cast<size_t>(fi)];
        FamilyState fs;
        fs.name = fam.name;
        fs.shape = family_shape(fam);
        for (const auto& sp : fam.series) {
            SeriesState ss;
            ss.labels = sp->label_values;
            ss.value = sp->value.load(std::memory_order_relaxed);
            if (fam.type == MetricType::Histogram)
                for (size_t i = 0; i <= fam.buckets.size(); ++i)
                    ss.buckets.push_back(sp->buckets[i].load(std::memory_order_relaxed));
            fs.series.push_back(std::move(ss));
        }
        s.families.push_back(std::move(fs));
    }
    const auto mappings = pipeline.mappings();
    for (size_t i = 0; i < mappings.size(); ++i)
        pipeline.deriver(i).for_each_open_start([&](const KeyHash& key, double start_ms, const std::string& input,
                                                    const std::vector<std::string>* labels, Deriver::Carried carried) {
            OpenStartState o;
            o.key_a = key.a;
            o.key_b = key.b;
            o.start_ms = start_ms;
            o.input = input;
            o.mapping = mappings[i].name;
            if (labels != nullptr) {
                o.has_in_flight = true;
                o.in_flight_labels = *labels;
            }
            o.from_start = std::move(carried);
            s.open_starts.push_back(std::move(o));
        });
    auto p = pipeline.stats();
    std::vector<DeriveStats> d;
    std::vector<DeriveStats*> ds;
    for (size_t i = 0; i < mappings.size(); ++i) d.push_back(pipeline.deriver(i).stats());
    for (size_t i = 1; i < mappings.size(); ++i) d[0].add_exporter_counts(d[i]);
    for (auto& one : d) ds.push_back(&one);
    // Once this state is on disk, it is the commit that made it there.
    ++p.state_writes;
    visit_counters(p, ds, mappings, [&](const std::string& name, uint64_t& v) { s.counters.push_back({name, v}); });
    return s;
}

namespace {

// The store's family that a saved family's series can go back into, or -1:
// one of the mapping's, of the same name, type, labels and buckets (older
// state files, without shapes: the same name).
int restorable(const FamilyState& fs, const MetricStore& store, const std::vector<int>& families) {
    const int fi = store.find_family(fs.name);
    if (fi < 0 || std::find(families.begin(), families.end(), fi) == families.end()) return -1;
    if (!fs.shape.empty() && fs.shape != family_shape(*store.families()[static_cast<size_t>(fi)])) return -1;
    return fi;
}

}  // namespace

void check_state(const State& state, const MetricStore& store, const std::vector<int>& families) {
    for (const auto& fs : state.families) {
        const int fi = restorable(fs, store, families);
        if (fi < 0) {
            // A file that names its mapping: a metric the mapping removed or changed, dropped.
            if (!state.mapping.empty()) continue;
            throw StateError(fmt::format("the state has metric {}, which this exporter does not export", fs.name));
        }
        const auto& fam = *store.families()[static_cast<size_t>(fi)];
        for (const auto& ss : fs.series) {
            if (ss.labels.size() != fam.label_names.size())
                throw StateError(fmt::format("{} has {} labels in the state, {} here", fs.name, ss.labels.size(),
                                             fam.label_names.size()));
            const size_t want = fam.type == MetricType::Histogram ? fam.buckets.size() + 1 : 0;
            if (ss.buckets.size() != want)
                throw StateError(
                    fmt::format("{} has {} buckets in the state, {} here", fs.name, ss.buckets.size(), want));
        }
    }
}

void restore_state(const State& state, Pipeline& pipeline, MetricStore& store, double now_ms) {
    const std::vector<int> families = pipeline.families();
    const auto mappings = pipeline.mappings();
    uint64_t dropped = 0;
    // An open start counts in the in-flight gauge only if the gauge's values came back.
    std::vector<bool> gauge_restored(mappings.size());
    for (const auto& fs : state.families) {
        const int fi = restorable(fs, store, families);
        if (fi < 0) {
            dropped += fs.series.size();
            continue;
        }
        for (size_t i = 0; i < mappings.size(); ++i)
            if (const int gauge = mappings[i].correlation.in_flight_metric;
                gauge >= 0 && fi == pipeline.deriver(i).families()[static_cast<size_t>(gauge)])
                gauge_restored[i] = true;
        const auto& fam = *store.families()[static_cast<size_t>(fi)];
        for (const auto& ss : fs.series) {
            std::vector<std::string_view> labels(ss.labels.begin(), ss.labels.end());
            Series* s = store.get(fi, labels);
            if (s == nullptr) continue;  // over the series limit: counted as dropped
            if (fam.type == MetricType::Histogram)
                MetricStore::set_histogram(*s, ss.buckets, ss.value);
            else
                MetricStore::set(*s, ss.value);
        }
    }
    for (const auto& o : state.open_starts)
        for (size_t i = 0; i < mappings.size(); ++i)
            if (mappings[i].name == o.mapping)
                // Read again now: the time the exporter was down is no idle time of the input.
                pipeline.deriver(i).restore_open_start(
                    {o.key_a, o.key_b}, o.start_ms, o.input, now_ms,
                    o.has_in_flight && gauge_restored[i] ? &o.in_flight_labels : nullptr, o.from_start);
    std::map<std::string, uint64_t> counters;
    for (const auto& c : state.counters) counters[c.name] = c.value;
    std::vector<DeriveStats*> ds;
    for (size_t i = 0; i < mappings.size(); ++i) ds.push_back(&pipeline.deriver(i).mutable_stats());
    visit_counters(pipeline.mutable_stats(), ds, mappings, [&](const std::string& name, uint64_t& v) {
        if (auto it = counters.find(name); it != counters.end()) v = it->second;
    });
    pipeline.mutable_stats().last_entry_ms = state.last_entry_ms;
    pipeline.mutable_stats().state_series_dropped += dropped;
    if (!state.mapping.empty() && state.mapping != mapping_hash(mappings))
        spdlog::info(
            "the mapping changed since the state was written: {} saved series of removed or changed metrics "
            "dropped, the others restored",
            dropped);
}

}  // namespace ailog

namespace ailog {

Checkpointer::Checkpointer(std::string path, double interval_ms, Pipeline& pipeline, const MetricStore& store,
                           const Tailer& tailer)
    : path_(std::move(path)), interval_ms_(interval_ms), pipeline_(pipeline), store_(store), tailer_(tailer) {}

void Checkpointer::maybe_commit(double now_ms) {
    if (now_ms >= next_due_ms_) commit(now_ms);
}

bool Checkpointer::commit(double now_ms) {
    next_due_ms_ = now_ms + interval_ms_;
    PipelineStats& stats = pipeline_.mutable_stats();
    try {
        const State s = capture_state(pipeline_, store_, pipeline_.families(), tailer_.positions(), now_ms);
        write_file_atomically(path_, serialize_state(s));
        ++stats.state_writes;
        stats.last_state_write_ms = now_ms;
        return true;
    } catch (const StateError& e) {
        ++stats.state_write_failures;
        if (now_ms - last_failure_log_ms_ >= 60000) {
            spdlog::error("cannot write the state file: {}", e.what());
            last_failure_log_ms_ = now_ms;
        }
        return false;
    }
}

void set_aside_state_file(const std::string& path, const std::string& why) {
    const std::string aside = fmt::format("{}.corrupt-{}", path, static_cast<long long>(time(nullptr)));
    if (std::rename(path.c_str(), aside.c_str()) == 0)
        spdlog::error("state file {} is unusable ({}); moved it to {} and starting afresh", path, why, aside);
    else
        spdlog::error("state file {} is unusable ({}) and cannot be moved aside ({}); starting afresh", path, why,
                      std::strerror(errno));
}

}  // namespace ailog
