// Replay: k-way merge of rotated-set streams by entry time.
#include "replay.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>

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

// A rotated set's entries, one at a time, in file order: `head` is the next
// entry, valid until the next advance().
class EntryStream {
public:
    virtual ~EntryStream() = default;
    virtual bool advance() = 0;  // false at the end of the set
    virtual uint64_t disk_bytes_done() const = 0;
    // After the end: what was read, for the totals.
    virtual void add_totals(PipelineStats& stats) const = 0;
    const Event* head = nullptr;
};

// Decodes on the calling thread (a single set: nothing to overlap with).
class DirectStream final : public EntryStream {
public:
    DirectStream(const RotatedSet& set, const Mapping& mapping, const Clock& clock, const DecodeOptions& options,
                 PipelineStats& stats)
        : reader_(set, options.max_line_bytes), decoder_(mapping, clock, options, stats) {
        source_ = decoder_.open_source(set.name);
    }

    bool advance() override {
        std::string_view line;
        size_t cap = 0;
        for (;;) {
            head = nullptr;
            switch (reader_.next(line, cap)) {
                case SetReader::Next::End:
                    return false;
                case SetReader::Next::TooLong:
                    decoder_.too_long(source_);
                    continue;
                case SetReader::Next::Line:
                    break;
            }
            decoder_.decode(source_, line, cap, [&](const Event& e) { head = &e; });
            if (head != nullptr) return true;
        }
    }
    uint64_t disk_bytes_done() const override { return reader_.disk_bytes_done(); }
    void add_totals(PipelineStats& stats) const override {
        stats.bytes += reader_.bytes_read();
        stats.read_errors += reader_.read_errors();
    }

private:
    SetReader reader_;
    LineDecoder decoder_;
    int source_ = -1;
};

// Decodes on a thread of its own, handing entries over in batches: the sets
// of several pods are decoded on all cores while one thread derives them in
// time order. The strings of each entry are copied into the batch.
class ThreadedStream final : public EntryStream {
public:
    ThreadedStream(const RotatedSet& set, const Mapping& mapping, const Clock& clock, const DecodeOptions& options)
        : nfields_(mapping.fields.size()),
          reader_(set, options.max_line_bytes),
          decoder_(mapping, clock, options, stats_) {
        source_ = decoder_.open_source(set.name);
        for (int i = 0; i < kBatches; ++i) free_.push_back(std::make_unique<Batch>());
        worker_ = std::thread([this] { work(); });
    }
    ~ThreadedStream() override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        worker_.join();
    }

    bool advance() override {
        if (current_ && ++pos_ < current_->kinds.size()) {
            load(pos_);
            return true;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        if (current_) free_.push_back(std::move(current_));
        cv_.notify_all();
        cv_.wait(lock, [&] { return !full_.empty() || done_; });
        if (full_.empty()) {
            head = nullptr;
            return false;
        }
        current_ = std::move(full_.front());
        full_.pop_front();
        pos_ = 0;
        load(0);
        return true;
    }
    uint64_t disk_bytes_done() const override { return progress_.load(std::memory_order_relaxed); }
    void add_totals(PipelineStats& stats) const override {
        // The worker has finished: its counts are final.
        stats.lines += stats_.lines;
        stats.entries_without_time += stats_.entries_without_time;
        for (size_t r = 0; r < stats.skipped.size(); ++r) stats.skipped[r] += stats_.skipped[r];
        stats.bytes += reader_.bytes_read();
        stats.read_errors += reader_.read_errors();
    }

private:
    static constexpr int kBatches = 3;
    static constexpr size_t kBatchEvents = 4096;
    // Entries packed by column: only the mapping's fields are copied.
    struct Batch {
        std::vector<int> kinds;
        std::vector<double> times;
        std::vector<FieldValue> fields;  // nfields per entry
        std::vector<uint32_t> offsets;   // of each field's string in arena
        std::string arena;
        void clear() {
            kinds.clear();
            times.clear();
            fields.clear();
            offsets.clear();
            arena.clear();
        }
    };

    void append(Batch& b, const Event& e) {
        b.kinds.push_back(e.kind);
        b.times.push_back(e.time_ms);
        for (size_t i = 0; i < nfields_; ++i) {
            b.fields.push_back(e.fields[i]);
            b.offsets.push_back(static_cast<uint32_t>(b.arena.size()));
            if (e.fields[i].present) b.arena.append(e.fields[i].str);
        }
    }
    // Points the copied strings at the batch's own bytes.
    static void seal(Batch& b) {
        for (size_t j = 0; j < b.fields.size(); ++j) {
            auto& f = b.fields[j];
            f.str = f.present ? std::string_view(b.arena.data() + b.offsets[j], f.str.size()) : std::string_view{};
        }
    }
    void load(size_t k) {
        event_.kind = current_->kinds[k];
        event_.time_ms = current_->times[k];
        event_.has_time = true;
        std::copy_n(current_->fields.begin() + static_cast<std::ptrdiff_t>(k * nfields_), nfields_,
                    event_.fields.begin());
        head = &event_;
    }
    std::unique_ptr<Batch> take_free() {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return !free_.empty() || stopping_; });
        if (stopping_) return nullptr;
        auto b = std::move(free_.back());
        free_.pop_back();
        b->clear();
        return b;
    }
    void hand_over(std::unique_ptr<Batch> b) {
        seal(*b);
        progress_.store(reader_.disk_bytes_done(), std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            full_.push_back(std::move(b));
        }
        cv_.notify_all();
    }
    void work() {
        auto batch = take_free();
        std::string_view line;
        size_t cap = 0;
        while (batch) {
            const auto r = reader_.next(line, cap);
            if (r == SetReader::Next::End) break;
            if (r == SetReader::Next::TooLong) {
                decoder_.too_long(source_);
                continue;
            }
            decoder_.decode(source_, line, cap, [&](const Event& e) { append(*batch, e); });
            if (batch->kinds.size() >= kBatchEvents) {
                hand_over(std::move(batch));
                batch = take_free();
            }
        }
        if (batch && !batch->kinds.empty()) hand_over(std::move(batch));
        progress_.store(reader_.disk_bytes_done(), std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
        cv_.notify_all();
    }

    size_t nfields_;
    PipelineStats stats_;
    SetReader reader_;
    LineDecoder decoder_;
    int source_ = -1;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Batch>> full_;
    std::vector<std::unique_ptr<Batch>> free_;
    std::unique_ptr<Batch> current_;
    size_t pos_ = 0;
    Event event_;  // the head, unpacked from current_
    bool done_ = false;
    bool stopping_ = false;
    std::atomic<uint64_t> progress_{0};
    std::thread worker_;
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
    std::vector<std::unique_ptr<EntryStream>> streams;
    for (const auto& set : sets_) {
        if (sets_.size() > 1)
            streams.push_back(std::make_unique<ThreadedStream>(set, pipeline_.mapping(), clock_, options_.decode));
        else
            streams.push_back(std::make_unique<DirectStream>(set, pipeline_.mapping(), clock_, options_.decode, stats));
    }

    const auto& kinds = pipeline_.mapping().kinds;
    // Oldest head first; ties keep the order of the sets.
    auto later = [&](size_t a, size_t b) {
        const Event& ea = *streams[a]->head;
        const Event& eb = *streams[b]->head;
        if (ea.time_ms != eb.time_ms) return ea.time_ms > eb.time_ms;
        // At the same instant a start goes first: its end may be in another file.
        const bool sa = kinds[static_cast<size_t>(ea.kind)].role == EntryRole::Start;
        const bool sb = kinds[static_cast<size_t>(eb.kind)].role == EntryRole::Start;
        if (sa != sb) return sb;
        return a > b;
    };
    std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
    for (size_t i = 0; i < streams.size(); ++i)
        if (streams[i]->advance()) heap.push(i);

    const uint64_t total = total_bytes();
    auto done_bytes = [&] {
        uint64_t d = 0;
        for (const auto& s : streams) d += s->disk_bytes_done();
        return d;
    };
    ReplayResult result;
    uint64_t since_progress = 0;
    while (!heap.empty()) {
        const size_t i = heap.top();
        heap.pop();
        EntryStream& s = *streams[i];
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

    for (const auto& s : streams) s->add_totals(stats);
    stats.files_watched = 0;
    if (progress) progress(total, total);
    pipeline_.publish();
    return result;
}

}  // namespace ailog
