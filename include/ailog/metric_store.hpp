// MetricStore: the live values of every metric family, and their text
// exposition.
//
// One thread (the pipeline) writes; any number of threads (HTTP scrapes)
// read. A label set is resolved to a Series once and the handle kept, so an
// update is a couple of relaxed atomic stores with no lock. Creating a series
// takes a mutex that a scrape also holds while rendering; that is the only
// point where the two sides meet.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ailog/mapping.hpp"

namespace ailog {

struct Series {
    std::vector<std::string> label_values;
    std::string labels_text;                           // rendered `name="value",…`, escaped
    std::atomic<double> value{0};                      // counter, gauge; histogram: sum
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // histogram: per-bucket counts, +Inf last
};

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class MetricStore {
public:
    explicit MetricStore(size_t max_series = 10000) : max_series_(max_series) {}
    MetricStore(const MetricStore&) = delete;
    MetricStore& operator=(const MetricStore&) = delete;

    // `limited`: series of this family count against the series limit.
    // A family of that name already there is returned as it is when its
    // type, labels and buckets are the same, else emptied and given these
    // (a mapping reloaded). Writer thread.
    int add_family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                   std::vector<double> buckets = {}, bool limited = true);
    // Removes every series of a family: it is no longer exposed (a metric
    // the reloaded mapping no longer has). Writer thread, with no Series*
    // of the family held.
    void clear_family(int family);

    // The series for these label values (one per label name), created on
    // first use; nullptr when the series limit is reached (counted).
    Series* get(int family, std::span<const std::string_view> label_values);
    Series* get(int family, std::initializer_list<std::string_view> label_values) {
        return get(family, std::span<const std::string_view>(label_values.begin(), label_values.size()));
    }

    // Labels rendered into every series, present and future, ahead of its
    // own (`job="x",instance="y"`, escaped). Writer thread.
    void add_constant_labels(std::string_view rendered);

    // Writer-side updates (one writing thread).
    static void add(Series& s, double v) {
        s.value.store(s.value.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
    }
    static void set(Series& s, double v) { s.value.store(v, std::memory_order_relaxed); }
    void observe(int family, Series& s, double v) const;
    // Sets a histogram's per-bucket counts (+Inf last) and sum (restoring state).
    static void set_histogram(Series& s, std::span<const uint64_t> buckets, double sum) {
        for (size_t i = 0; i < buckets.size(); ++i) s.buckets[i].store(buckets[i], std::memory_order_relaxed);
        s.value.store(sum, std::memory_order_relaxed);
    }
    // The family with this name, or -1.
    int find_family(std::string_view name) const;

    // Prometheus text format 0.0.4, appended to `out`.
    void render(std::string& out) const { render(out, {}); }
    // The same, leaving out the families whose name starts with `skip_prefix`.
    void render(std::string& out, std::string_view skip_prefix) const;

    size_t series_count() const { return limited_series_.load(std::memory_order_relaxed); }
    size_t max_series() const { return max_series_; }

    struct Family {
        std::string name;
        std::string help;
        MetricType type;
        std::vector<std::string> label_names;
        std::vector<double> buckets;
        std::vector<std::string> bucket_text;  // rendered upper bounds
        bool limited;
        std::vector<std::unique_ptr<Series>> series;                                  // guarded by mutex_ for readers
        std::unordered_map<std::string, Series*, StringHash, std::equal_to<>> index;  // writer only
        std::atomic<uint64_t> dropped{0};  // updates lost to the series limit
    };
    // Read access for tests and other writers (OpenMetrics, state).
    const std::vector<std::unique_ptr<Family>>& families() const { return families_; }
    std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }

private:
    std::vector<std::unique_ptr<Family>> families_;
    mutable std::mutex mutex_;
    std::string key_;  // scratch for lookups
    size_t max_series_;
    std::string constant_labels_;
    std::atomic<size_t> limited_series_{0};
};

// Escapes a label value for the text format (\\, \", \n) and replaces
// invalid UTF-8 with U+FFFD.
void append_escaped_label_value(std::string& out, std::string_view v);

}  // namespace ailog
