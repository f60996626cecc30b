// DirectStream: one rotated set decoded on the calling thread.
#include "replay/streams.hpp"

namespace ailog {
namespace {

// Decodes on the calling thread. Its reader and decoder exist from the first
// entry asked for to the end of the set.
class DirectStream final : public EntryStream {
public:
    DirectStream(const RotatedSet& set, std::span<const Mapping> mappings, const Clock& clock,
                 const DecodeOptions& options, PipelineStats& stats)
        : set_(set), mappings_(mappings), clock_(clock), options_(options), stats_(stats) {}

    bool next() override {
        head = nullptr;
        if (ended_) return false;
        if (!io_) io_ = std::make_unique<SetInput>(set_, mappings_, clock_, options_, stats_);
        if (next_entry()) return true;
        bytes_ = io_->reader.bytes_read();
        read_errors_ = io_->reader.read_errors();
        disk_bytes_ = io_->reader.disk_bytes_done();
        io_.reset();
        pending_ = {};
        ended_ = true;
        return false;
    }
    uint64_t disk_bytes_done() const override { return io_ ? io_->reader.disk_bytes_done() : disk_bytes_; }
    void add_totals(PipelineStats& stats) const override {
        stats.bytes += bytes_;
        stats.read_errors += read_errors_;
    }

private:
    bool next_entry() {
        // A line that is an entry of several mappings: its entries one by one.
        if (++pending_pos_ < pending_.size()) {
            head = &pending_[pending_pos_];
            return true;
        }
        pending_.clear();
        pending_pos_ = 0;
        const bool several = mappings_.size() > 1;
        std::string_view line;
        size_t cap = 0;
        while (next_line(io_->reader, io_->decoder, io_->source, line, cap)) {
            // The decoder's event is decoded again by each mapping: copied when there are several.
            io_->decoder.decode(io_->source, line, cap, [&](const Event& e) {
                if (several)
                    pending_.push_back(e);
                else
                    head = &e;
            });
            if (!pending_.empty()) head = &pending_.front();
            if (head != nullptr) return true;
        }
        return false;
    }

    const RotatedSet& set_;
    std::span<const Mapping> mappings_;
    const Clock& clock_;
    DecodeOptions options_;
    PipelineStats& stats_;
    std::unique_ptr<SetInput> io_;
    bool ended_ = false;
    uint64_t bytes_ = 0, read_errors_ = 0, disk_bytes_ = 0;  // at the end
    std::vector<Event> pending_;                             // several mappings: the entries of the last line
    size_t pending_pos_ = 0;
};

}  // namespace

std::unique_ptr<EntryStream> make_direct_stream(const RotatedSet& set, std::span<const Mapping> mappings,
                                                const Clock& clock, const DecodeOptions& options,
                                                PipelineStats& stats) {
    return std::make_unique<DirectStream>(set, mappings, clock, options, stats);
}

}  // namespace ailog
