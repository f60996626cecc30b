// SelfMetrics: registration and publication of the ailog_exporter_* series
// and the standard process_* series.
#include "sink/self_metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "version.hpp"

namespace ailog {
namespace {

constexpr bool kUnlimited = false;

Series* single(MetricStore& store, const char* name, const char* help, MetricType type) {
    const int f = store.add_family(name, help, type, {}, {}, kUnlimited);
    return store.get(f, std::span<const std::string_view>{});
}

double process_start_seconds() {
    // Field 22 of /proc/self/stat: start time in clock ticks after boot.
    FILE* f = std::fopen("/proc/self/stat", "r");
    if (f == nullptr) return 0;
    char buf[1024];
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');
    if (p == nullptr) return 0;
    unsigned long long start_ticks = 0;
    // After ")": state(3) ... starttime is the 20th field from there.
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                    &start_ticks) != 1)
        return 0;
    double uptime = 0;
    if (FILE* u = std::fopen("/proc/uptime", "r")) {
        if (std::fscanf(u, "%lf", &uptime) != 1) uptime = 0;
        std::fclose(u);
    }
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double now = static_cast<double>(time(nullptr));
    return now - uptime + static_cast<double>(start_ticks) / ticks;
}

}  // namespace

SelfMetrics::SelfMetrics(MetricStore& store, std::span<const Mapping> mappings, const std::vector<int>& metric_families)
    : store_(store) {
    const int build = store.add_family("ailog_exporter_build_info",
                                       "A metric with a constant '1' value labeled by version and revision",
                                       MetricType::Gauge, {"version", "revision"}, {}, kUnlimited);
    MetricStore::set(*store.get(build, {kVersion, kRevision}), 1);

    lines_ =
        single(store, "ailog_exporter_lines_read_total", "Complete lines read from all inputs", MetricType::Counter);
    bytes_ = single(store, "ailog_exporter_bytes_read_total", "Bytes of complete lines read from all inputs",
                    MetricType::Counter);
    const int skipped =
        store.add_family("ailog_exporter_lines_skipped_total", "Lines that produced no entry, by reason",
                         MetricType::Counter, {"reason"}, {}, kUnlimited);
    for (size_t r = 0; r < skipped_.size(); ++r) skipped_[r] = store.get(skipped, {kSkipReasonNames[r]});

    entries_family_ = store.add_family("ailog_exporter_entries_total", "Mapped log entries decoded, by kind",
                                       MetricType::Counter, {"kind"}, {}, kUnlimited);
    unmatched_family_ =
        store.add_family("ailog_exporter_unmatched_entries_total",
                         "End entries read without their start entry (no failure duration, in-flight not decremented)",
                         MetricType::Counter, {"kind"}, {}, kUnlimited);
    const int evicted = store.add_family(
        "ailog_exporter_correlation_evicted_total",
        "Start entries forgotten without an end entry: too old (age), table full (capacity), or started again "
        "with the same key (replaced)",
        MetricType::Counter, {"reason"}, {}, kUnlimited);
    evicted_[static_cast<size_t>(EvictReason::Age)] = store.get(evicted, {"age"});
    evicted_[static_cast<size_t>(EvictReason::Capacity)] = store.get(evicted, {"capacity"});
    evicted_[static_cast<size_t>(EvictReason::Replaced)] = store.get(evicted, {"replaced"});
    negative_durations_ =
        single(store, "ailog_exporter_negative_durations_total",
               "End entries timestamped before their start entry; no duration observed", MetricType::Counter);
    open_starts_ = single(store, "ailog_exporter_correlation_open_entries", "Start entries waiting for their end entry",
                          MetricType::Gauge);
    without_time_ = single(store, "ailog_exporter_entries_without_timestamp_total",
                           "Entries with no usable timestamp of their own or from their wrapper (arrival time used)",
                           MetricType::Counter);
    const int invalid_ts = store.add_family(
        "ailog_exporter_invalid_timestamps_total",
        "Entries whose own timestamp was unusable, by reason: malformed (not a real date and time), out_of_range "
        "(before 1970 or after 9999, not finite), future (replay: later than the replay's start)",
        MetricType::Counter, {"reason"}, {}, kUnlimited);
    for (size_t r = 1; r < invalid_timestamps_.size(); ++r)
        invalid_timestamps_[r] = store.get(invalid_ts, {kTimeErrorNames[r]});
    last_entry_ = single(store, "ailog_exporter_last_entry_timestamp_seconds", "Log timestamp of the last entry read",
                         MetricType::Gauge);
    last_read_ = single(store, "ailog_exporter_last_read_timestamp_seconds", "Time at which the last line was read",
                        MetricType::Gauge);
    files_ = single(store, "ailog_exporter_files_watched", "Inputs being read (files and stdin)", MetricType::Gauge);
    read_errors_ = single(store, "ailog_exporter_read_errors_total", "Errors reading inputs", MetricType::Counter);
    pending_bytes_ = single(store, "ailog_exporter_pending_bytes",
                            "Bytes read that belong to a line still waiting for its newline", MetricType::Gauge);
    rotations_ = single(store, "ailog_exporter_file_rotations_total",
                        "Followed files that were renamed or deleted (log rotation)", MetricType::Counter);
    truncations_ = single(store, "ailog_exporter_file_truncations_total",
                          "Followed files truncated or rewritten in place (copytruncate), read again from the start",
                          MetricType::Counter);
    state_writes_ = single(store, "ailog_exporter_state_writes_total", "State file commits", MetricType::Counter);
    state_write_failures_ = single(store, "ailog_exporter_state_write_failures_total", "State file commits that failed",
                                   MetricType::Counter);
    state_dropped_ = single(store, "ailog_exporter_state_series_dropped_total",
                            "Saved series not restored: their metric was removed from the mapping or changed (type, "
                            "labels, buckets)",
                            MetricType::Counter);
    last_state_write_ = single(store, "ailog_exporter_state_last_write_timestamp_seconds",
                               "Time of the last committed state file (0 without --state.file)", MetricType::Gauge);
    series_ = single(store, "ailog_exporter_series", "Series of the exported metrics", MetricType::Gauge);
    series_limit_ =
        single(store, "ailog_exporter_series_limit", "Most series the exported metrics may have", MetricType::Gauge);
    MetricStore::set(*series_limit_, static_cast<double>(store.max_series()));
    dropped_family_ = store.add_family("ailog_exporter_series_dropped_total",
                                       "Updates dropped because the series limit was reached, by metric",
                                       MetricType::Counter, {"metric"}, {}, kUnlimited);
    remap(mappings, metric_families);

    start_time_ = single(store, "process_start_time_seconds", "Start time of the process since unix epoch in seconds",
                         MetricType::Gauge);
    MetricStore::set(*start_time_, process_start_seconds());
    cpu_ = single(store, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
                  MetricType::Counter);
    rss_ = single(store, "process_resident_memory_bytes", "Resident memory size in bytes", MetricType::Gauge);
    fds_ = single(store, "process_open_fds", "Number of open file descriptors", MetricType::Gauge);
}

void SelfMetrics::remap(std::span<const Mapping> mappings, const std::vector<int>& metric_families) {
    // Series of kinds, metrics and labels the mapping no longer has go;
    // publish() sets the others' values again.
    entries_.clear();
    unmatched_.clear();
    dropped_.clear();
    label_overflows_.clear();
    store_.clear_family(entries_family_);
    store_.clear_family(unmatched_family_);
    store_.clear_family(dropped_family_);
    for (const Mapping& mapping : mappings)
        for (const auto& k : mapping.kinds) {
            entries_.push_back(store_.get(entries_family_, {k.name}));
            unmatched_.push_back(k.role == EntryRole::End ? store_.get(unmatched_family_, {k.name}) : nullptr);
        }
    for (int f : metric_families)
        dropped_.emplace_back(f, store_.get(dropped_family_, {store_.families()[static_cast<size_t>(f)]->name}));
    if (overflow_family_ >= 0) store_.clear_family(overflow_family_);
    for (const Mapping& mapping : mappings)
        for (const auto& [metric, label] : mapping.limited_labels()) {
            if (overflow_family_ < 0)
                overflow_family_ = store_.add_family(
                    "ailog_exporter_label_overflow_total",
                    "Updates whose label value was new past the label's max_values, given the overflow value "
                    "instead, by metric and label",
                    MetricType::Counter, {"metric", "label"}, {}, kUnlimited);
            const MetricSpec& m = mapping.metrics[static_cast<size_t>(metric)];
            label_overflows_.push_back(
                store_.get(overflow_family_, {m.name, m.label_names[static_cast<size_t>(label)]}));
        }
}

void SelfMetrics::config_loaded(bool ok, double now_s) {
    // Registered by serve's first load: replay has no reloads to tell of.
    if (reload_ok_ == nullptr) {
        reload_ok_ = single(store_, "ailog_exporter_config_last_reload_successful",
                            "Whether the last configuration reload attempt was successful", MetricType::Gauge);
        reload_time_ = single(store_, "ailog_exporter_config_last_reload_success_timestamp_seconds",
                              "Timestamp of the last successful configuration reload", MetricType::Gauge);
    }
    MetricStore::set(*reload_ok_, ok ? 1 : 0);
    if (ok) MetricStore::set(*reload_time_, now_s);
}

void SelfMetrics::publish(const PipelineStats& p, const DeriveStats& d, size_t open_starts) {
    MetricStore::set(*lines_, static_cast<double>(p.lines));
    MetricStore::set(*bytes_, static_cast<double>(p.bytes));
    MetricStore::set(*read_errors_, static_cast<double>(p.read_errors));
    MetricStore::set(*without_time_, static_cast<double>(p.entries_without_time));
    for (size_t r = 1; r < invalid_timestamps_.size(); ++r)
        MetricStore::set(*invalid_timestamps_[r], static_cast<double>(p.invalid_timestamps[r]));
    for (size_t r = 0; r < skipped_.size(); ++r) MetricStore::set(*skipped_[r], static_cast<double>(p.skipped[r]));
    for (size_t k = 0; k < entries_.size(); ++k) {
        MetricStore::set(*entries_[k], static_cast<double>(d.entries[k]));
        if (unmatched_[k] != nullptr) MetricStore::set(*unmatched_[k], static_cast<double>(d.unmatched[k]));
    }
    for (size_t r = 0; r < evicted_.size(); ++r) MetricStore::set(*evicted_[r], static_cast<double>(d.evicted[r]));
    MetricStore::set(*negative_durations_, static_cast<double>(d.negative_durations));
    for (size_t i = 0; i < label_overflows_.size() && i < d.label_overflows.size(); ++i)
        MetricStore::set(*label_overflows_[i], static_cast<double>(d.label_overflows[i]));
    MetricStore::set(*open_starts_, static_cast<double>(open_starts));
    if (p.last_entry_ms > 0) MetricStore::set(*last_entry_, p.last_entry_ms / 1000.0);
    if (p.last_read_ms > 0) MetricStore::set(*last_read_, p.last_read_ms / 1000.0);
    MetricStore::set(*files_, static_cast<double>(p.files_watched));
    MetricStore::set(*pending_bytes_, static_cast<double>(p.pending_bytes));
    MetricStore::set(*rotations_, static_cast<double>(p.rotations));
    MetricStore::set(*truncations_, static_cast<double>(p.truncations));
    MetricStore::set(*state_writes_, static_cast<double>(p.state_writes));
    MetricStore::set(*state_write_failures_, static_cast<double>(p.state_write_failures));
    MetricStore::set(*last_state_write_, p.last_state_write_ms / 1000.0);
    MetricStore::set(*state_dropped_, static_cast<double>(p.state_series_dropped));
    MetricStore::set(*series_, static_cast<double>(store_.series_count()));
    for (auto& [family, series] : dropped_)
        MetricStore::set(*series, static_cast<double>(store_.families()[static_cast<size_t>(family)]->dropped.load(
                                      std::memory_order_relaxed)));
}

void SelfMetrics::refresh_process() {
    if (FILE* f = std::fopen("/proc/self/stat", "r")) {
        char buf[1024];
        const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = '\0';
        unsigned long utime = 0, stime = 0;
        long rss_pages = 0;
        if (const char* p = std::strrchr(buf, ')');
            p != nullptr &&
            std::sscanf(p + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
                        &utime, &stime, &rss_pages) == 3) {
            const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
            MetricStore::set(*cpu_, static_cast<double>(utime + stime) / ticks);
            MetricStore::set(*rss_, static_cast<double>(rss_pages) * static_cast<double>(sysconf(_SC_PAGESIZE)));
        }
    }
    if (DIR* d = opendir("/proc/self/fd")) {
        int n = 0;
        while (const dirent* e = readdir(d))
            if (e->d_name[0] != '.') ++n;
        closedir(d);
        MetricStore::set(*fds_, static_cast<double>(n - 1));  // minus the directory's own descriptor
    }
}

}  // namespace ailog
