// Deriver: applies a Mapping's rules to decoded events, updating the metric
// store. It also owns the correlation of start and end entries.
//
// Rules are compiled once: every label source and value source is resolved
// to indices, so the per-event work is a few comparisons, one series lookup
// per rule and relaxed atomic stores.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ailog/event.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "derive/correlation.hpp"
#include "derive/label_hygiene.hpp"

namespace ailog {

// A clock read off entries' times. It shows the older of the last two, so a
// single stray timestamp years ahead does not move it, while a clock that
// really moved on moves it one entry later.
struct EntryClock {
    double last_ms = 0;  // the last entry's time (0 before the first)
    // Takes an entry's time; returns the clock's time.
    double advance(double time_ms) {
        const double now = last_ms > 0 ? std::min(last_ms, time_ms) : time_ms;
        last_ms = time_ms;
        return now;
    }
};

// What the deriver tells the exporter's self-metrics.
struct DeriveStats {
    std::vector<uint64_t> entries;          // per kind
    std::vector<uint64_t> unmatched;        // end entries with no open start, per kind
    std::array<uint64_t, 3> evicted{};      // per EvictReason
    uint64_t negative_durations = 0;        // correlated durations below zero, not observed
    std::vector<uint64_t> label_overflows;  // per Mapping::limited_labels(): values past max_values

    // Adds the counts that are the whole exporter's, not a mapping's.
    void add_exporter_counts(const DeriveStats& other) {
        for (size_t r = 0; r < evicted.size(); ++r) evicted[r] += other.evicted[r];
        negative_durations += other.negative_durations;
    }
};

class Deriver {
public:
    Deriver(const Mapping& mapping, MetricStore& store, CorrelationTable::Limits limits);

    // An input: a source of entries with its own clock and its own
    // correlation ids (a rotated set of files, a container's log, stdin).
    // Inputs of the same name are one input; each open_input() is paired
    // with a close_input().
    uint32_t open_input(std::string_view name);
    void close_input(uint32_t input);
    // The log time of the input's last entry (0 before the first).
    double input_last_ms(uint32_t input) const { return inputs_[input].clock.last_ms; }

    // Derives one entry of `input`, timestamped `time_ms` (on the input's
    // clock) and read at `read_ms` (wall time live, log time in a replay).
    void apply(const Event& ev, uint32_t input, double time_ms, double read_ms);
    // An entry just before a replayed window: only the open starts follow
    // it (remembered, answered, aged out, in flight), so that the window's
    // ends find the starts before it; it is counted nowhere.
    void lead_in(const Event& ev, uint32_t input, double time_ms, double read_ms) {
        counting_ = false;
        apply(ev, input, time_ms, read_ms);
        counting_ = true;
    }
    // The age limit of open starts.
    double max_age_ms() const { return table_.limits().max_age_ms; }
    // Forgets starts read before read_now_ms minus the age limit.
    void expire_read(double read_now_ms);

    const DeriveStats& stats() const { return stats_; }
    DeriveStats& mutable_stats() { return stats_; }

    // Open starts for the state file; the in-flight series is given by its
    // label values (nullptr: none), the values kept for the end entry by
    // field name.
    // f(key, start_ms, input name, in-flight labels or nullptr, carried).
    using Carried = std::vector<std::pair<std::string, std::string>>;
    template <class F>
    void for_each_open_start(F&& f) const {
        table_.for_each([&](const CorrelationTable::Entry& e) {
            f(e.key, e.start_ms, inputs_[e.input].name,
              e.payload ? &in_flight_series_[e.payload - 1]->label_values : nullptr, carried(e.carry));
        });
    }
    // Puts back an open start of the named input, as read at `read_ms`; the
    // in-flight gauge is restored with the metric values, so it is not
    // incremented here.
    void restore_open_start(const KeyHash& key, double start_ms, std::string_view input, double read_ms,
                            const std::vector<std::string>* in_flight_labels, const Carried& carried = {});
    const CorrelationTable& correlation() const { return table_; }
    // Takes over the open starts and input clocks of the deriver of the
    // previous mapping (a reload), as they were: their times, the inputs
    // they belong to, the values kept for their end entries (by field name).
    // Their in-flight series carry over when `same_in_flight` (the gauge is
    // unchanged), else they count in no gauge.
    void adopt_open_starts(const Deriver& old, bool same_in_flight);
    // Family index in the store of each metric of the mapping.
    const std::vector<int>& families() const { return families_; }
    // ailog_exporter_unpriced_entries_total{metric,model} when the mapping
    // prices tokens, else -1. Its series persist like the metrics'.
    int unpriced_family() const { return unpriced_family_; }

private:
    // A small open-addressing table in front of the store's series index:
    // the label sets a log uses are found by a short hash and a compare of
    // the label values in place, without joining them first. Bounded: past
    // kMaxEntries label sets, the others are looked up in the store.
    class SeriesCache {
    public:
        using Labels = std::span<const std::string_view>;
        static uint64_t hash(Labels labels);
        Series* find(Labels labels, uint64_t hash) const;
        void put(Labels labels, uint64_t hash, Series* series);

    private:
        static constexpr size_t kMaxEntries = 4096;
        struct Slot {
            uint64_t hash = 0;
            Series* series = nullptr;  // null: empty
            std::string key;           // per label: its 4-byte length, then its bytes
        };
        static bool same(const std::string& key, Labels labels);
        Slot& empty_slot(uint64_t hash);  // where `hash` goes (linear probing)
        std::vector<Slot> slots_ = std::vector<Slot>(64);
        size_t used_ = 0;
    };

    struct CompiledRule {
        int metric;  // index in mapping.metrics
        const Rule* rule;
        std::unique_ptr<SeriesCache> cache;
        std::vector<int> limit_of;  // per label: its index in limits_, or -1
    };

    // The series of `family` for the resolved labels_, through `cache`.
    Series* series_for(int family, SeriesCache& cache);

    // Label values of `sources` for `ev`; false if one is unavailable.
    bool resolve_labels(const std::vector<LabelSource>& sources, const std::vector<int>& limit_of, const Event& ev,
                        int kind);
    std::vector<int> limits_of(int metric, const std::vector<LabelSource>& sources) const;
    std::string_view classify(const Classifier& c, const Event& ev) const;
    // Tokens times the price of the model the resolved labels name; false
    // (counted) when the table has no price for it.
    bool cost(const ValueSource& v, const MetricSpec& metric, const Event& ev, double& value);
    uint32_t in_flight_slot(Series* s);  // payload (1-based) naming an in-flight series
    // The correlation's from_start fields: kept from a start entry in a slot
    // of carry_pool_ (1-based; 0: none), given to its end entry.
    uint32_t keep_from_start(const Event& ev);
    const Event& with_start_values(const Event& ev, uint32_t carry);
    void release_carry(uint32_t carry);
    Carried carried(uint32_t carry) const;
    // f(field, value) for each value kept in slot `carry` (not 0).
    template <class F>
    void for_each_kept(uint32_t carry, F&& f) const;
    uint32_t keep_carried(const Carried& carried);  // keep_from_start() of values by field name
    void release_in_flight(const CorrelationTable::Entry& e);
    void evicted(const CorrelationTable::Entry& e, EvictReason r);
    void release_closed_inputs();

    struct Input {
        std::string name;
        KeyHash hash;
        EntryClock clock;    // ages the input's starts
        uint32_t users = 0;  // open_input() calls not yet closed
        bool in_use = false;
    };

    const Mapping& mapping_;
    MetricStore& store_;
    CorrelationTable table_;
    std::vector<int> families_;
    int unpriced_family_ = -1;
    std::vector<std::vector<CompiledRule>> rules_by_kind_;
    std::vector<Input> inputs_;  // by input number; numbers are reused once an input has no user and no open start
    std::unordered_map<std::string, uint32_t> input_by_name_;
    std::vector<uint32_t> closed_inputs_;    // no user left, open starts may remain
    std::vector<Series*> in_flight_series_;  // payload of correlation entries -> series
    std::array<std::string_view, 16> labels_{};
    size_t nlabels_ = 0;
    std::array<std::string, 16> rewritten_;  // per label: its rewritten value
    std::string rewrite_scratch_;
    std::vector<std::pair<int, int>> limited_;  // Mapping::limited_labels()
    std::vector<LabelLimit> limits_;            // one per limited_ entry
    std::vector<int> in_flight_limit_of_;
    std::vector<std::string> carry_pool_;  // per slot: per field, a presence byte, then a 4-byte length and bytes
    std::vector<uint32_t> carry_free_;
    Event carried_event_;
    SeriesCache in_flight_cache_;
    DeriveStats stats_;
    bool counting_ = true;  // false: lead_in()
};

}  // namespace ailog
