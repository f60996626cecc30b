// Replay: k-way merge of rotated-set streams by entry time.
#include "replay.hpp"

#include <memory>
#include <queue>

namespace ailog {
namespace {

PipelineOptions pipeline_options(const ReplayOptions& o) {
    PipelineOptions p;
    p.decode = o.decode;
    p.decode.arrival_time_fallback = false;  // history needs its own timestamps
    p.correlation = o.correlation;
    p.expire_when_idle = false;
    return p;
}

// One rotated set: its lines decoded until the next entry, which waits as
// `head` until the merge takes it.
struct Stream {
    Stream(const RotatedSet& set, const Mapping& mapping, const Clock& clock, const DecodeOptions& options,
           PipelineStats& stats)
        : reader(set, options.max_line_bytes), decoder(mapping, clock, options, stats) {
        source = decoder.open_source(set.name);
    }

    // Advances to the next entry; false at the end of the set.
    bool advance() {
        std::string_view line;
        size_t cap = 0;
        for (;;) {
            head = nullptr;
            switch (reader.next(line, cap)) {
                case SetReader::Next::End:
                    return false;
                case SetReader::Next::TooLong:
                    decoder.too_long(source);
                    continue;
                case SetReader::Next::Line:
                    break;
            }
            decoder.decode(source, line, cap, [&](const Event& e) { head = &e; });
            if (head != nullptr) return true;
        }
    }

    SetReader reader;
    LineDecoder decoder;
    int source = -1;
    const Event* head = nullptr;  // valid until the next advance()
};

}  // namespace

Replay::Replay(const Mapping& mapping, MetricStore& store, const Clock& clock, ReplayOptions options,
               std::vector<RotatedSet> sets)
    : clock_(clock),
      pipeline_(mapping, store, clock, pipeline_options(options)),
      options_(options),
      sets_(std::move(sets)) {
    options_.decode.arrival_time_fallback = false;
}

uint64_t Replay::total_bytes() const {
    uint64_t n = 0;
    for (const auto& s : sets_) n += s.bytes;
    return n;
}

ReplayResult Replay::run(OpenMetricsWriter* sampler, const std::function<void(uint64_t, uint64_t)>& progress) {
    PipelineStats& stats = pipeline_.mutable_stats();
    std::vector<std::unique_ptr<Stream>> streams;
    for (const auto& set : sets_)
        streams.push_back(std::make_unique<Stream>(set, pipeline_.mapping(), clock_, options_.decode, stats));

    // Oldest head first; ties keep the order of the sets.
    auto later = [&](size_t a, size_t b) {
        const double ta = streams[a]->head->time_ms, tb = streams[b]->head->time_ms;
        return ta != tb ? ta > tb : a > b;
    };
    std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
    for (size_t i = 0; i < streams.size(); ++i)
        if (streams[i]->advance()) heap.push(i);

    const uint64_t total = total_bytes();
    auto done_bytes = [&] {
        uint64_t d = 0;
        for (const auto& s : streams) d += s->reader.disk_bytes_done();
        return d;
    };
    ReplayResult result;
    uint64_t since_progress = 0;
    while (!heap.empty()) {
        const size_t i = heap.top();
        heap.pop();
        Stream& s = *streams[i];
        const Event& e = *s.head;
        const bool before = options_.from_ms && e.time_ms < *options_.from_ms;
        const bool after = options_.to_ms && e.time_ms > *options_.to_ms;
        if (before || after) {
            ++stats.entries_outside_window;
        } else {
            if (sampler != nullptr) sampler->before_entry(e.time_ms);
            pipeline_.apply(e);
            if (result.entries++ == 0) result.first_ms = e.time_ms;
            result.last_ms = e.time_ms;
        }
        if (s.advance()) heap.push(i);
        if (progress && ++since_progress >= 65536) {
            since_progress = 0;
            progress(done_bytes(), total);
        }
    }
    if (sampler != nullptr && result.entries > 0) sampler->finish(result.last_ms);

    for (const auto& s : streams) {
        stats.bytes += s->reader.bytes_read();
        stats.read_errors += s->reader.read_errors();
    }
    stats.files_watched = 0;
    if (progress) progress(total, total);
    pipeline_.publish();
    return result;
}

}  // namespace ailog
