// ParallelStream: one rotated set read on one thread and decoded on several.
#include "replay/streams.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "replay/event_batch.hpp"

namespace ailog {
namespace {

// One thread reads and unwraps the set (framing, Docker/CRI joining: the
// parts that depend on the lines before), copying the payloads into chunks;
// worker threads decode the chunks' JSON, whichever chunk is next; the
// caller takes the chunks back in file order.
class ParallelStream final : public EntryStream {
public:
    ParallelStream(unsigned workers, const RotatedSet& set, std::span<const Mapping> mappings, const Clock& clock,
                   const DecodeOptions& options)
        : reader_(set, options.max_line_bytes), unwrapper_(mappings, clock, options, reader_stats_) {
        source_ = unwrapper_.open_source(set.name);
        // Workers see payloads, and Docker records that need no state to
        // unwrap (LineDecoder::unwrap_or_pass).
        DecodeOptions payload_options = options;
        payload_options.wrapper = WrapperKind::Docker;
        for (unsigned w = 0; w < workers; ++w) {
            auto worker = std::make_unique<Worker>();
            worker->decoder = std::make_unique<LineDecoder>(mappings, clock, payload_options, worker->stats);
            worker->source = worker->decoder->open_source(set.name);
            workers_.push_back(std::move(worker));
        }
        // Enough chunks for the reader, every worker and the caller, and one spare each.
        for (unsigned i = 0; i < 2 * workers + 2; ++i) {
            chunks_.push_back(std::make_unique<Chunk>(mappings));
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
            done_cv_.wait(lock,
                          [&] { return decoded_.count(next_seq_) > 0 || (read_done_ && next_seq_ == chunks_made_); });
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
        explicit Chunk(std::span<const Mapping> mappings) : events(mappings, kChunkPayloads) {}
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

std::unique_ptr<EntryStream> make_parallel_stream(unsigned workers, const RotatedSet& set,
                                                  std::span<const Mapping> mappings, const Clock& clock,
                                                  const DecodeOptions& options) {
    return std::make_unique<ParallelStream>(workers, set, mappings, clock, options);
}

}  // namespace ailog
