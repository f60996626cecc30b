// Pooled streams: several rotated sets decoded by threads shared between them.
#include "replay/streams.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "replay/event_batch.hpp"

namespace ailog {
namespace {

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
        explicit Lane(const RotatedSet& set) : set(set) {}
        const RotatedSet& set;
        // From the merge's first call of next() to the end of the set; used
        // by one thread at a time: the one that set `busy`.
        std::unique_ptr<SetInput> io;
        PipelineStats stats;
        uint64_t bytes_read = 0;  // at the end
        uint64_t read_errors = 0;
        std::atomic<uint64_t> progress{0};
        // Under the pool's mutex.
        std::deque<std::unique_ptr<EventBatch>> full;  // decoded, in file order
        std::vector<std::unique_ptr<EventBatch>> free;
        bool started = false;
        bool busy = false;  // a thread is decoding the lane
        unsigned last = 0;  // the thread that decoded it last (0: the merging thread)
        bool done = false;  // the set has ended: nothing more than `full`
    };

    DecodePool(unsigned workers, const std::vector<RotatedSet>& sets, std::span<const Mapping> mappings,
               const Clock& clock, const DecodeOptions& options)
        : mappings_(mappings), clock_(clock), options_(options) {
        for (const auto& set : sets) lanes_.push_back(std::make_unique<Lane>(set));
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
        if (!lane.started) start(lane);
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
            if (lane.done) {
                finish(lane);
                return nullptr;
            }
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

    // A lane joins the ones decoded with its reader, decoder and batches.
    void start(Lane& lane) {
        lane.started = true;
        lane.io = std::make_unique<SetInput>(lane.set, mappings_, clock_, options_, lane.stats);
        for (int i = 0; i < kBatches; ++i) lane.free.push_back(std::make_unique<EventBatch>(mappings_, kBatchEvents));
        active_.push_back(&lane);
        if (idle_workers_ > 0) work_cv_.notify_one();
    }
    // An ended lane, all its batches merged, gives its memory back.
    void finish(Lane& lane) {
        if (!lane.io) return;
        lane.bytes_read = lane.io->reader.bytes_read();
        lane.read_errors = lane.io->reader.read_errors();
        lane.io.reset();
        lane.free.clear();
        std::erase(active_, &lane);
    }

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
        SetInput& io = *lane.io;
        while (next_line(io.reader, io.decoder, io.source, line, cap)) {
            io.decoder.decode(io.source, line, cap, [&](const Event& e) { b.append(e); });
            if (b.size() >= kBatchEvents || b.arena_bytes() >= kBatchArenaBytes) {
                more = true;
                break;
            }
        }
        lane.progress.store(io.reader.disk_bytes_done(), std::memory_order_relaxed);
        return more;
    }
    // The lane thread `me` should decode next: of those it decoded last, the
    // one with the fewest batches ready, as the merge will need it first;
    // another lane only when it has far fewer ready (moving a lane costs
    // cache misses, and lanes with a few batches ready can wait).
    Lane* pick(unsigned me) {
        Lane* any = nullptr;
        Lane* own = nullptr;
        for (Lane* l : active_) {
            if (l->busy || l->done || l->free.empty()) continue;
            if (any == nullptr || l->full.size() < any->full.size()) any = l;
            if (l->last == me && (own == nullptr || l->full.size() < own->full.size())) own = l;
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

    std::span<const Mapping> mappings_;
    const Clock& clock_;
    DecodeOptions options_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::vector<Lane*> active_;  // started and not finished; under the mutex
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
        stats.bytes += lane_.bytes_read;
        stats.read_errors += lane_.read_errors;
    }

private:
    std::shared_ptr<DecodePool> pool_;
    DecodePool::Lane& lane_;
    std::unique_ptr<EventBatch> current_;
    size_t pos_ = 0;
    Event event_;  // the head, unpacked from current_
};

}  // namespace

std::vector<std::unique_ptr<EntryStream>> make_pooled_streams(unsigned workers, const std::vector<RotatedSet>& sets,
                                                              std::span<const Mapping> mappings, const Clock& clock,
                                                              const DecodeOptions& options) {
    auto pool = std::make_shared<DecodePool>(workers, sets, mappings, clock, options);
    std::vector<std::unique_ptr<EntryStream>> streams;
    for (size_t i = 0; i < sets.size(); ++i) streams.push_back(std::make_unique<PooledStream>(pool, i));
    return streams;
}

}  // namespace ailog
