// DirectStream: one rotated set decoded on the calling thread.
#include "replay/streams.hpp"

namespace ailog {
namespace {

// Decodes on the calling thread.
class DirectStream final : public EntryStream {
public:
    DirectStream(const RotatedSet& set, std::span<const Mapping> mappings, const Clock& clock,
                 const DecodeOptions& options, PipelineStats& stats)
        : reader_(set, options.max_line_bytes),
          decoder_(mappings, clock, options, stats),
          several_(mappings.size() > 1) {
        source_ = decoder_.open_source(set.name);
    }

    bool next() override {
        std::string_view line;
        size_t cap = 0;
        head = nullptr;
        // A line that is an entry of several mappings: its entries one by one.
        if (++pending_pos_ < pending_.size()) {
            head = &pending_[pending_pos_];
            return true;
        }
        pending_.clear();
        pending_pos_ = 0;
        while (next_line(reader_, decoder_, source_, line, cap)) {
            // The decoder's event is decoded again by each mapping: copied when there are several.
            decoder_.decode(source_, line, cap, [&](const Event& e) {
                if (several_)
                    pending_.push_back(e);
                else
                    head = &e;
            });
            if (!pending_.empty()) head = &pending_.front();
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
    bool several_;
    std::vector<Event> pending_;  // several mappings: the entries of the last line
    size_t pending_pos_ = 0;
};

}  // namespace

std::unique_ptr<EntryStream> make_direct_stream(const RotatedSet& set, std::span<const Mapping> mappings,
                                                const Clock& clock, const DecodeOptions& options,
                                                PipelineStats& stats) {
    return std::make_unique<DirectStream>(set, mappings, clock, options, stats);
}

}  // namespace ailog
