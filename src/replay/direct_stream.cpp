// DirectStream: one rotated set decoded on the calling thread.
#include "replay/streams.hpp"

namespace ailog {
namespace {

// Decodes on the calling thread.
class DirectStream final : public EntryStream {
public:
    DirectStream(const RotatedSet& set, std::span<const Mapping> mappings, const Clock& clock,
                 const DecodeOptions& options, PipelineStats& stats)
        : reader_(set, options.max_line_bytes), decoder_(mappings, clock, options, stats) {
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

}  // namespace

std::unique_ptr<EntryStream> make_direct_stream(const RotatedSet& set, std::span<const Mapping> mappings,
                                                const Clock& clock, const DecodeOptions& options,
                                                PipelineStats& stats) {
    return std::make_unique<DirectStream>(set, mappings, clock, options, stats);
}

}  // namespace ailog
