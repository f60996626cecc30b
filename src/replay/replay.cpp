// Replay: the rotated sets' streams merged by entry time into one pipeline.
#include "replay/replay.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <thread>

#include "replay/entry_stream.hpp"
#include "replay/merge.hpp"

namespace ailog {
namespace {

PipelineOptions pipeline_options(const ReplayOptions& o) {
    PipelineOptions p;
    p.decode = o.decode;
    p.decode.arrival_time_fallback = false;  // history needs its own timestamps
    p.correlation = o.correlation;
    p.live = false;
    return p;
}

}  // namespace

Replay::Replay(std::span<const Mapping> mappings, MetricStore& store, const Clock& clock, ReplayOptions options,
               std::vector<RotatedSet> sets)
    : clock_(clock),
      pipeline_(mappings, store, clock, pipeline_options(options)),
      options_(options),
      sets_(std::move(sets)) {
    options_.decode.arrival_time_fallback = false;
    // A history ends now: later entries have a clock that is wrong, or a
    // timestamp that is not one. A --to later than now says where it ends
    // instead (the logs of a host whose clock runs ahead).
    const double end = options_.to_ms ? std::max(*options_.to_ms, clock.now_ms()) : clock.now_ms();
    options_.decode.latest_ms = std::min(options_.decode.latest_ms, end);
}

uint64_t Replay::total_bytes() const {
    uint64_t n = 0;
    for (const auto& s : sets_) n += s.bytes;
    return n;
}

ReplayResult Replay::run(OpenMetricsWriter* sampler, const std::function<void(uint64_t, uint64_t)>& progress) {
    PipelineStats& stats = pipeline_.mutable_stats();
    const unsigned threads =
        options_.threads > 0 ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
    const auto streams = make_entry_streams(threads, sets_, pipeline_.mappings(), clock_, options_.decode, stats);

    // Each set is one input: its own correlation ids and clock.
    std::vector<uint32_t> inputs;
    for (const auto& set : sets_) inputs.push_back(pipeline_.open_input(set.name));

    const uint64_t total = total_bytes();
    auto done_bytes = [&] {
        uint64_t d = 0;
        for (const auto& s : streams) d += s->disk_bytes_done();
        return d;
    };
    // The window (from, to], left-open as Prometheus's ranges: a sample at
    // an instant holds every entry at or before it, so windows that meet
    // sample the seam once, with what one replay of the whole would. Before
    // the window, as far back as a start stays open, the open starts are
    // followed: an end inside it answers a start before it as in one replay
    // of the whole history.
    constexpr double kInf = std::numeric_limits<double>::infinity();
    const double from = options_.from_ms.value_or(-kInf);
    const double to = options_.to_ms.value_or(kInf);
    const double lead_in_from = from - pipeline_.longest_max_age_ms();
    if (sampler != nullptr) sampler->set_window(from, to);

    ReplayResult result;
    uint64_t since_progress = 0;
    // Several sets: each is started when the merge reaches its first entry.
    TimeMerge merge(streams, pipeline_.mappings(),
                    sets_.size() > 1 ? first_entry_times(sets_, pipeline_.mappings(), clock_, options_.decode)
                                     : std::vector<double>{});
    for (size_t i = 0; merge.next(i);) {
        const EntryStream& s = *streams[i];
        const Event& e = *s.head;
        const double t = s.head_time_ms;
        if (t <= from || t > to) {
            ++stats.entries_outside_window;
            if (t <= from && t >= lead_in_from) pipeline_.lead_in(e, inputs[i], t);
        } else {
            if (sampler != nullptr) sampler->before_entry(t);
            pipeline_.apply_at(e, inputs[i], t);
            if (result.entries++ == 0) result.first_ms = result.last_ms = t;
            result.first_ms = std::min(result.first_ms, t);
            result.last_ms = std::max(result.last_ms, t);
        }
        if (progress && ++since_progress >= 65536) {
            since_progress = 0;
            progress(done_bytes(), total);
        }
    }
    if (sampler != nullptr && result.entries > 0) sampler->finish(result.last_ms);

    for (const auto& s : streams) s->add_totals(stats);
    stats.files_watched = 0;
    if (progress) progress(total, total);
    pipeline_.publish();
    return result;
}

}  // namespace ailog
