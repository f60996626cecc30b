// Replay streams: one rotated set's entries, decoded on the caller's thread,
// on threads shared between several sets, or on several threads for one set.
#include "replay/entry_stream.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ailog {
namespace {

// What one thread writes on every line or entry is kept on cache lines of
// its own: a counter beside a field another thread reads on every entry costs
// a cache-line transfer each time (the stream's `head` is read by the merge).
constexpr size_t kCacheLine = 64;

// Decoded entries handed between threads, packed: per entry its kind, time
// and which fields are present, then one 8-byte slot per present field (a
// number, or where a string's bytes are in the batch's arena). Only the
// fields read after decoding are copied (Mapping::derived_fields: not the
// message or the time, already read), and a batch's memory is reused once
// grown.
class EventBatch {
public:
    // `capacity`: the entries a batch is filled with before it is handed on.
    EventBatch(const Mapping& mapping, size_t capacity)
        : nfields_(mapping.fields.size()), kept_fields_(mapping.derived_fields()) {
        for (size_t i = 0; i < nfields_; ++i)
            if (mapping.fields[i].type == FieldType::String) string_fields_ |= 1u << i;
        entries_.reserve(capacity);
        slots_.reserve(capacity * nfields_);
    }

    size_t size() const { return entries_.size(); }
    size_t arena_bytes() const { return arena_.size(); }
    void clear() {
        entries_.clear();
        slots_.clear();
        arena_.clear();
    }
    // Written member by member in place: a braced Entry or Slot is assembled
    // on the stack and read back wider than it was written (a stalled store
    // forward on every entry).
    void append(const Event& e) {
        const auto first_slot = static_cast<uint32_t>(slots_.size());
        uint32_t present = 0;
        for (size_t i = 0; i < nfields_; ++i) {
            const FieldValue& f = e.fields[i];
            if (!f.present || !(kept_fields_ & (1u << i))) continue;
            present |= 1u << i;
            Slot& slot = slots_.emplace_back();
            if (string_fields_ & (1u << i)) {
                slot.str.offset = static_cast<uint32_t>(arena_.size());
                slot.str.size = static_cast<uint32_t>(f.str.size());
                arena_.append(f.str);
            } else {
                slot.num = f.num;
            }
        }
        Entry& entry = entries_.emplace_back();
        entry.time_ms = e.time_ms;
        entry.fold_ms = e.fold_ms;
        entry.kind = e.kind;
        entry.present = present;
        entry.first_slot = first_slot;
    }
    // Entry k into `e` (strings valid while the batch is unchanged).
    void load(size_t k, Event& e) const {
        const Entry& entry = entries_[k];
        e.kind = entry.kind;
        e.time_ms = entry.time_ms;
        e.fold_ms = entry.fold_ms;
        e.has_time = true;
        const Slot* slot = slots_.data() + entry.first_slot;
        for (size_t i = 0; i < nfields_; ++i) {
            FieldValue& f = e.fields[i];
            f.present = (entry.present & (1u << i)) != 0;
            if (!f.present) continue;
            if (string_fields_ & (1u << i))
                f.str = std::string_view(arena_.data() + slot->str.offset, slot->str.size);
            else
                f.num = slot->num;
            ++slot;
        }
    }

private:
    static_assert(kMaxFields <= 32, "presence is a 32-bit mask");
    struct Entry {
        double time_ms;
        int32_t fold_ms;
        int kind;
        uint32_t present;  // bit i: field i has a slot
        uint32_t first_slot;
    };
    union Slot {
        double num;
        struct {
            uint32_t offset;  // in arena_; a batch is handed on before it holds 4 GiB
            uint32_t size;    // lines are at most 1 GiB (--max-line-bytes)
        } str;
    };
    size_t nfields_;
    uint32_t kept_fields_;        // bit i: field i is copied
    uint32_t string_fields_ = 0;  // bit i: field i is a string
    std::vector<Entry> entries_;
    std::vector<Slot> slots_;
    std::string arena_;
};

void add_decoder_counts(PipelineStats& to, const PipelineStats& from) {
    to.lines += from.lines;
    to.entries_without_time += from.entries_without_time;
    for (size_t r = 0; r < to.invalid_timestamps.size(); ++r) to.invalid_timestamps[r] += from.invalid_timestamps[r];
    for (size_t r = 0; r < to.skipped.size(); ++r) to.skipped[r] += from.skipped[r];
}

// The next line of `reader` within the line limit into `line`; the
// over-long ones on the way are counted on `decoder`. False at the end.
bool next_line(SetReader& reader, LineDecoder& decoder, int source, std::string_view& line, size_t& capacity) {
    for (;;) {
        switch (reader.next(line, capacity)) {
            case SetReader::Next::End:
                return false;
            case SetReader::Next::TooLong:
                decoder.too_long(source);
                continue;
            case SetReader::Next::Line:
                return true;
        }
    }
}

// Decodes on the calling thread.
class DirectStream final : public EntryStream {
public:
    DirectStream(const RotatedSet& set, const Mapping& mapping, const Clock& clock, const DecodeOptions& options,
                 PipelineStats& stats)
        : reader_(set, options.max_line_bytes), decoder_(mapping, clock, options, stats) {
        source_ = decoder_.open_source(set.name);
    }

    bool next() override {
        std::string_view line;
        size_t cap = 0;
        head = nullptr;
        while (next_line(reader_, decoder_, source_, line, cap)) {
            decoder_.decode(source_, line, cap, [&](const Event& e) { head = &e; });
            if (head != nullptr) return true;
        }
        return false;
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

// Several sets decoded by a few threads shared between them. Each set is a
// lane: its reader, decoder and the batches of entries decoded ahead. A
// worker takes whichever lane has the fewest batches ready and decodes one
// batch of it; the merging thread, when the lane it needs has none ready and
// no one is decoding it, decodes that batch itself instead of waiting. With
// one worker fewer than the cores, the threads never outnumber the cores, and
// the work balances itself: the more the merge lags, the less it decodes.
// A thread keeps to the lanes it decoded last unless another is far behind:
// a lane moved to another core brings its reader's and parser's buffers
// along as cache misses.
class DecodePool {
public:
    struct alignas(kCacheLine) Lane {
        Lane(const RotatedSet& set, const Mapping& mapping, const Clock& clock, const DecodeOptions& options)
            : reader(set, options.max_line_bytes), decoder(mapping, clock, options, stats) {
            source = decoder.open_source(set.name);
            for (int i = 0; i < kBatches; ++i) free.push_back(std::make_unique<EventBatch>(mapping, kBatchEvents));
        }
        // Used by one thread at a time: the one that set `busy`.
        PipelineStats stats;
        SetReader reader;
        LineDecoder decoder;
        int source = -1;
        std::atomic<uint64_t> progress{0};
        // Under the pool's mutex.
        std::deque<std::unique_ptr<EventBatch>> full;  // decoded, in file order
        std::vector<std::unique_ptr<EventBatch>> free;
        bool busy = false;  // a thread is decoding the lane
        unsigned last = 0;  // the thread that decoded it last (0: the merging thread)
        bool done = false;  // the set has ended: nothing more than `full`
    };

    DecodePool(unsigned workers, const std::vector<RotatedSet>& sets, const Mapping& mapping, const Clock& clock,
               const DecodeOptions& options) {
        for (const auto& set : sets) lanes_.push_back(std::make_unique<Lane>(set, mapping, clock, options));
        for (unsigned w = 1; w <= workers; ++w) threads_.emplace_back([this, w] { work(w); });
    }
    ~DecodePool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        work_cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

    Lane& lane(size_t i) { return *lanes_[i]; }

    // For the merging thread: gives back `used` (may be null) and returns the
    // lane's next batch, or null at the end of its set.
    std::unique_ptr<EventBatch> next(Lane& lane, std::unique_ptr<EventBatch> used) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (used) {
            lane.free.push_back(std::move(used));
            if (idle_workers_ > 0 && !lane.busy && !lane.done) work_cv_.notify_one();
        }
        for (;;) {
            if (!lane.full.empty()) {
                auto b = std::move(lane.full.front());
                lane.full.pop_front();
                return b;
            }
            if (lane.done) return nullptr;
            if (!lane.busy && !lane.free.empty()) {
                decode_batch(lane, lock, kMerge);
                continue;
            }
            // The lane is being decoded: decode another meanwhile, if one can be.
            if (Lane* other = pick(kMerge)) {
                decode_batch(*other, lock, kMerge);
                continue;
            }
            merge_waits_for_ = &lane;
            ready_cv_.wait(lock);
            merge_waits_for_ = nullptr;
        }
    }

private:
    static constexpr int kBatches = 12;
    static constexpr size_t kBatchEvents = 512;          // about 80 KB: twelve per set in memory
    static constexpr size_t kBatchArenaBytes = 1 << 20;  // or fewer entries with long strings
    static constexpr unsigned kMerge = 0;                // the merging thread; workers are 1 to n

    // Decodes a batch of `lane`, which no one is decoding and which has a
    // free batch, on thread `me`; `lock` is released meanwhile.
    void decode_batch(Lane& lane, std::unique_lock<std::mutex>& lock, unsigned me) {
        lane.busy = true;
        lane.last = me;
        auto b = std::move(lane.free.back());
        lane.free.pop_back();
        lock.unlock();
        const bool more = fill(lane, *b);
        lock.lock();
        lane.busy = false;
        if (!more) lane.done = true;
        if (b->size() > 0)
            lane.full.push_back(std::move(b));
        else
            lane.free.push_back(std::move(b));
        // The merge goes back to merging: an idle worker may carry on with
        // the lane. Woken after the unlock, a thread does not sleep again on
        // the mutex.
        const bool wake_merge = merge_waits_for_ == &lane;
        const bool wake_worker = me == kMerge && idle_workers_ > 0 && !lane.done && !lane.free.empty();
        if (wake_merge || wake_worker) {
            lock.unlock();
            if (wake_merge) ready_cv_.notify_one();
            if (wake_worker) work_cv_.notify_one();
            lock.lock();
        }
    }
    // Decodes the lane's next entries into `b` (without the mutex); false
    // when the set has ended.
    static bool fill(Lane& lane, EventBatch& b) {
        b.clear();
        std::string_view line;
        size_t cap = 0;
        bool more = false;
        while (next_line(lane.reader, lane.decoder, lane.source, line, cap)) {
            lane.decoder.decode(lane.source, line, cap, [&](const Event& e) { b.append(e); });
            if (b.size() >= kBatchEvents || b.arena_bytes() >= kBatchArenaBytes) {
                more = true;
                break;
            }
        }
        lane.progress.store(lane.reader.disk_bytes_done(), std::memory_order_relaxed);
        return more;
    }
    // The lane thread `me` should decode next: of those it decoded last, the
    // one with the fewest batches ready, as the merge will need it first;
    // another lane only when it has far fewer ready (moving a lane costs
    // cache misses, and lanes with a few batches ready can wait).
    Lane* pick(unsigned me) {
        Lane* any = nullptr;
        Lane* own = nullptr;
        for (auto& l : lanes_) {
            if (l->busy || l->done || l->free.empty()) continue;
            if (any == nullptr || l->full.size() < any->full.size()) any = l.get();
            if (l->last == me && (own == nullptr || l->full.size() < own->full.size())) own = l.get();
        }
        if (own == nullptr || own->full.size() > 2 + 2 * any->full.size()) return any;
        return own;
    }
    void work(unsigned me) {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!stopping_) {
            Lane* lane = pick(me);
            if (lane == nullptr) {
                ++idle_workers_;
                work_cv_.wait(lock);
                --idle_workers_;
                continue;
            }
            decode_batch(*lane, lock, me);
        }
    }

    std::vector<std::unique_ptr<Lane>> lanes_;
    std::vector<std::thread> threads_;
    alignas(kCacheLine) std::mutex mutex_;
    std::condition_variable work_cv_;   // idle workers wait for a lane to decode
    std::condition_variable ready_cv_;  // the merge waits for a batch of merge_waits_for_
    Lane* merge_waits_for_ = nullptr;
    unsigned idle_workers_ = 0;
    bool stopping_ = false;
};

// One set of a DecodePool, for the merging thread.
class PooledStream final : public EntryStream {
public:
    PooledStream(std::shared_ptr<DecodePool> pool, size_t lane) : pool_(std::move(pool)), lane_(pool_->lane(lane)) {}

    bool next() override {
        if (current_ && ++pos_ < current_->size()) {
            current_->load(pos_, event_);
            return true;
        }
        current_ = pool_->next(lane_, std::move(current_));
        if (!current_) {
            head = nullptr;
            return false;
        }
        pos_ = 0;
        current_->load(0, event_);
        head = &event_;
        return true;
    }
    uint64_t disk_bytes_done() const override { return lane_.progress.load(std::memory_order_relaxed); }
    void add_totals(PipelineStats& stats) const override {
        // The set has ended: the lane's counts are final.
        add_decoder_counts(stats, lane_.stats);
        stats.bytes += lane_.reader.bytes_read();
        stats.read_errors += lane_.reader.read_errors();
    }

private:
    std::shared_ptr<DecodePool> pool_;
    DecodePool::Lane& lane_;
    std::unique_ptr<EventBatch> current_;
    size_t pos_ = 0;
    Event event_;  // the head, unpacked from current_
};

// One thread reads and unwraps the set (framing, Docker/CRI joining: the
// parts that depend on the lines before), copying the payloads into chunks;
// worker threads decode the chunks' JSON, whichever chunk is next; the
// caller takes the chunks back in file order.
class ParallelStream final : public EntryStream {
public:
    ParallelStream(unsigned workers, const RotatedSet& set, const Mapping& mapping, const Clock& clock,
                   const DecodeOptions& options)
        : reader_(set, options.max_line_bytes), unwrapper_(mapping, clock, options, reader_stats_) {
        source_ = unwrapper_.open_source(set.name);
        // Workers see payloads, and Docker records that need no state to
        // unwrap (LineDecoder::unwrap_or_pass).
        DecodeOptions payload_options = options;
        payload_options.wrapper = WrapperKind::Docker;
        for (unsigned w = 0; w < workers; ++w) {
            auto worker = std::make_unique<Worker>();
            worker->decoder = std::make_unique<LineDecoder>(mapping, clock, payload_options, worker->stats);
            worker->source = worker->decoder->open_source(set.name);
            workers_.push_back(std::move(worker));
        }
        // Enough chunks for the reader, every worker and the caller, and one spare each.
        for (unsigned i = 0; i < 2 * workers + 2; ++i) {
            chunks_.push_back(std::make_unique<Chunk>(mapping));
            free_.push_back(chunks_.back().get());
        }
        reader_thread_ = std::thread([this] { read(); });
        for (auto& w : workers_) w->thread = std::thread([this, wp = w.get()] { decode(*wp); });
    }
    ~ParallelStream() override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        free_cv_.notify_all();
        work_cv_.notify_all();
        reader_thread_.join();
        for (auto& w : workers_) w->thread.join();
    }

    bool next() override {
        if (current_ != nullptr && ++pos_ < current_->events.size()) {
            current_->events.load(pos_, event_);
            return true;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            if (current_ != nullptr) {
                free_.push_back(current_);
                current_ = nullptr;
                free_cv_.notify_one();
            }
            done_cv_.wait(lock, [&] { return decoded_.count(next_seq_) > 0 || (read_done_ && next_seq_ == chunks_made_); });
            auto it = decoded_.find(next_seq_);
            if (it == decoded_.end()) {
                head = nullptr;
                return false;
            }
            current_ = it->second;
            decoded_.erase(it);
            ++next_seq_;
            if (current_->events.size() == 0) continue;
            pos_ = 0;
            current_->events.load(0, event_);
            head = &event_;
            return true;
        }
    }
    uint64_t disk_bytes_done() const override { return progress_.load(std::memory_order_relaxed); }
    void add_totals(PipelineStats& stats) const override {
        add_decoder_counts(stats, reader_stats_);
        for (const auto& w : workers_) add_decoder_counts(stats, w->stats);
        stats.bytes += reader_.bytes_read();
        stats.read_errors += reader_.read_errors();
    }

private:
    // Large enough that handing chunks over costs little next to decoding them,
    // small enough that memory stays small (two chunks per worker and two more:
    // 9.5 MiB peak on 2 cores).
    static constexpr size_t kChunkBytes = 256 * 1024;
    static constexpr size_t kChunkPayloads = 2048;

    struct PayloadRef {
        size_t offset;
        size_t size;
        double time_ms;  // the wrapper's, when has_time
        bool has_time;
        bool record;  // a whole Docker record, still to unwrap
    };
    struct Chunk {
        explicit Chunk(const Mapping& mapping) : events(mapping, kChunkPayloads) {}
        uint64_t seq = 0;
        std::vector<char> bytes;  // payloads, each followed by '\n'; padding at the end
        std::vector<PayloadRef> payloads;
        EventBatch events;
    };
    struct alignas(kCacheLine) Worker {
        PipelineStats stats;
        std::unique_ptr<LineDecoder> decoder;
        int source = -1;
        std::thread thread;
    };

    Chunk* take_free() {
        std::unique_lock<std::mutex> lock(mutex_);
        free_cv_.wait(lock, [&] { return !free_.empty() || stopping_; });
        if (stopping_) return nullptr;
        Chunk* c = free_.back();
        free_.pop_back();
        c->bytes.clear();
        c->payloads.clear();
        c->events.clear();
        return c;
    }
    void hand_to_workers(Chunk* c) {
        // simdjson reads up to SIMDJSON_PADDING bytes past a document.
        c->bytes.insert(c->bytes.end(), kLinePadding, '\n');
        progress_.store(reader_.disk_bytes_done(), std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            c->seq = chunks_made_++;
            to_decode_.push_back(c);
        }
        work_cv_.notify_one();
    }
    void read() {
        Chunk* chunk = take_free();
        std::string_view line;
        size_t cap = 0;
        // Member by member, as in EventBatch::append.
        auto add_bytes = [&](std::string_view text, std::optional<double> time_ms, bool record) {
            PayloadRef& ref = chunk->payloads.emplace_back();
            ref.offset = chunk->bytes.size();
            ref.size = text.size();
            ref.time_ms = time_ms.value_or(0);
            ref.has_time = time_ms.has_value();
            ref.record = record;
            chunk->bytes.insert(chunk->bytes.end(), text.begin(), text.end());
            chunk->bytes.push_back('\n');  // the byte after a document must not be '}'
        };
        auto add = [&](const Payload& p) { add_bytes(p.text, p.time.value(), false); };
        auto add_record = [&](std::string_view record) { add_bytes(record, std::nullopt, true); };
        while (chunk != nullptr && next_line(reader_, unwrapper_, source_, line, cap)) {
            unwrapper_.unwrap_or_pass(source_, line, cap, add, add_record);
            if (chunk->bytes.size() >= kChunkBytes || chunk->payloads.size() >= kChunkPayloads) {
                hand_to_workers(chunk);
                chunk = take_free();
            }
        }
        if (chunk != nullptr) hand_to_workers(chunk);
        progress_.store(reader_.disk_bytes_done(), std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(mutex_);
        read_done_ = true;
        work_cv_.notify_all();
        done_cv_.notify_all();
    }
    void decode(Worker& w) {
        for (;;) {
            Chunk* c = nullptr;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                work_cv_.wait(lock, [&] { return !to_decode_.empty() || read_done_ || stopping_; });
                if (stopping_ || to_decode_.empty()) return;
                c = to_decode_.front();
                to_decode_.pop_front();
            }
            const char* base = c->bytes.data();
            const size_t end = c->bytes.size();
            auto keep = [&](const Event& e) { c->events.append(e); };
            for (const auto& p : c->payloads) {
                const std::string_view text(base + p.offset, p.size);
                if (p.record) {
                    w.decoder->decode_record(w.source, text, end - p.offset, keep);
                } else {
                    const WrapperTime time{p.has_time ? std::optional(p.time_ms) : std::nullopt, {}};
                    w.decoder->decode_payload(w.source, Payload{text, end - p.offset, time}, keep);
                }
            }
            {
                std::lock_guard<std::mutex> lock(mutex_);
                decoded_.emplace(c->seq, c);
            }
            done_cv_.notify_one();
        }
    }

    // The reading thread's own.
    alignas(kCacheLine) PipelineStats reader_stats_;
    SetReader reader_;
    LineDecoder unwrapper_;  // counts lines and wrapper problems; decodes nothing
    int source_ = -1;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::unique_ptr<Chunk>> chunks_;

    alignas(kCacheLine) std::mutex mutex_;
    std::condition_variable free_cv_;  // the reader waits for a free chunk
    std::condition_variable work_cv_;  // workers wait for a chunk to decode
    std::condition_variable done_cv_;  // the caller waits for the next chunk in order
    std::vector<Chunk*> free_;
    std::deque<Chunk*> to_decode_;
    std::map<uint64_t, Chunk*> decoded_;
    uint64_t chunks_made_ = 0;
    uint64_t next_seq_ = 0;
    bool read_done_ = false;
    bool stopping_ = false;

    alignas(kCacheLine) Chunk* current_ = nullptr;  // the caller's
    size_t pos_ = 0;
    Event event_;
    std::atomic<uint64_t> progress_{0};
    std::thread reader_thread_;
};

}  // namespace

std::vector<std::unique_ptr<EntryStream>> make_entry_streams(unsigned threads, const std::vector<RotatedSet>& sets,
                                                            const Mapping& mapping, const Clock& clock,
                                                            const DecodeOptions& options, PipelineStats& stats) {
    std::vector<std::unique_ptr<EntryStream>> streams;
    if (threads <= 1) {
        for (const auto& set : sets) streams.push_back(std::make_unique<DirectStream>(set, mapping, clock, options, stats));
    } else if (sets.size() == 1) {
        streams.push_back(std::make_unique<ParallelStream>(threads, sets[0], mapping, clock, options));
    } else {
        // The merging thread decodes too: one worker fewer than the threads,
        // and no more than one per set.
        const auto workers = static_cast<unsigned>(std::min<size_t>(threads - 1, sets.size()));
        auto pool = std::make_shared<DecodePool>(workers, sets, mapping, clock, options);
        for (size_t i = 0; i < sets.size(); ++i) streams.push_back(std::make_unique<PooledStream>(pool, i));
    }
    return streams;
}

}  // namespace ailog
