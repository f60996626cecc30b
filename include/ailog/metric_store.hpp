// MetricStore: the live values of every metric family, and their text
// exposition.
//
// One thread (the pipeline) writes; any number of threads (HTTP scrapes)
// read. A label set is resolved to a Series once and the handle kept, so an
// update is a couple of relaxed atomic stores with no lock. Creating a series
// takes a mutex that a scrape also holds while rendering; that is the only
// point where the two sides meet.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ailog/mapping.hpp"

namespace ailog {

// The latest observation of a histogram bucket, or the latest increase of a
// counter, with the id of the entry that made it: an OpenMetrics exemplar.
// One thread writes; a scrape reads it under a sequence lock, again while a
// write is under way, so it never sees half of one.
class Exemplar {
public:
    static constexpr size_t kMaxId = 64;  // bytes; a longer id is not kept

    // Writer thread. An empty or too long id leaves the previous exemplar.
    void record(std::string_view id, double value, double time_s) {
        if (id.empty() || id.size() > kMaxId) return;
        const uint32_t seq = seq_.load(std::memory_order_relaxed);
        seq_.store(seq + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        std::array<uint64_t, kWords> words{};
        std::memcpy(words.data(), id.data(), id.size());
        for (size_t i = 0; i < (id.size() + 7) / 8; ++i) id_[i].store(words[i], std::memory_order_relaxed);
        size_.store(static_cast<uint32_t>(id.size()), std::memory_order_relaxed);
        value_.store(value, std::memory_order_relaxed);
        time_s_.store(time_s, std::memory_order_relaxed);
        seq_.store(seq + 2, std::memory_order_release);
    }
    // Any thread: false while there is none.
    bool read(std::string& id, double& value, double& time_s) const {
        for (;;) {
            const uint32_t before = seq_.load(std::memory_order_acquire);
            if (before & 1) continue;
            const uint32_t size = size_.load(std::memory_order_relaxed);
            std::array<uint64_t, kWords> words{};
            for (size_t i = 0; i < (size + 7) / 8 && i < kWords; ++i) words[i] = id_[i].load(std::memory_order_relaxed);
            value = value_.load(std::memory_order_relaxed);
            time_s = time_s_.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (seq_.load(std::memory_order_relaxed) != before) continue;
            if (size == 0 || size > kMaxId) return false;
            id.assign(reinterpret_cast<const char*>(words.data()), size);
            return true;
        }
    }

private:
    static constexpr size_t kWords = kMaxId / 8;
    std::atomic<uint32_t> seq_{0};
    std::atomic<uint32_t> size_{0};
    std::atomic<double> value_{0};
    std::atomic<double> time_s_{0};
    std::array<std::atomic<uint64_t>, kWords> id_{};
};

struct Series {
    std::vector<std::string> label_values;
    std::string labels_text;                           // rendered `name="value",…`, escaped
    std::atomic<double> value{0};                      // counter, gauge; histogram: sum
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // histogram: per-bucket counts, +Inf last
    // With exemplars on (MetricStore::set_exemplars): a histogram's per
    // bucket (+Inf last), a counter's one; else null.
    std::unique_ptr<Exemplar[]> exemplars;
};

// The text formats of a scrape.
enum class Exposition : uint8_t {
    Text,         // Prometheus text 0.0.4
    OpenMetrics,  // OpenMetrics 1.0.0, with exemplars
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

    // Exemplars for every series of a counter or histogram family, present
    // and future, labelled `label` (e.g. request_id); "" turns them off.
    // Writer thread.
    void set_exemplars(int family, std::string label);

    // Labels rendered into every series, present and future, ahead of its
    // own (`job="x",instance="y"`, escaped). Writer thread.
    void add_constant_labels(std::string_view rendered);

    // Writer-side updates (one writing thread).
    static void add(Series& s, double v) {
        s.value.store(s.value.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
    }
    static void set(Series& s, double v) { s.value.store(v, std::memory_order_relaxed); }
    // Returns the index of the bucket that took `v` (+Inf: the last).
    size_t observe(int family, Series& s, double v) const;
    // Sets a histogram's per-bucket counts (+Inf last) and sum (restoring state).
    static void set_histogram(Series& s, std::span<const uint64_t> buckets, double sum) {
        for (size_t i = 0; i < buckets.size(); ++i) s.buckets[i].store(buckets[i], std::memory_order_relaxed);
        s.value.store(sum, std::memory_order_relaxed);
    }
    // The family with this name, or -1.
    int find_family(std::string_view name) const;

    // Every family in `format`, appended to `out`, leaving out those whose
    // name starts with `skip_prefix` (when not empty).
    void render(std::string& out, std::string_view skip_prefix = {}, Exposition format = Exposition::Text) const;

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
        std::string exemplar_label;                                                   // "": no exemplars
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
