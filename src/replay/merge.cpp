// TimeMerge: a heap of stream indices ordered by their heads.
#include "replay/merge.hpp"

namespace ailog {

TimeMerge::TimeMerge(const std::vector<std::unique_ptr<EntryStream>>& streams, std::span<const Mapping> mappings)
    : streams_(streams), mappings_(mappings), heap_(Later{this}) {
    for (size_t i = 0; i < streams_.size(); ++i)
        if (streams_[i]->advance()) heap_.push(i);
}

bool TimeMerge::Later::operator()(size_t a, size_t b) const {
    const EntryStream& sa = *merge->streams_[a];
    const EntryStream& sb = *merge->streams_[b];
    if (sa.head_time_ms != sb.head_time_ms) return sa.head_time_ms > sb.head_time_ms;
    const auto role = [&](const Event& e) {
        return merge->mappings_[e.mapping].kinds[static_cast<size_t>(e.kind)].role;
    };
    const bool start_a = role(*sa.head) == EntryRole::Start;
    const bool start_b = role(*sb.head) == EntryRole::Start;
    if (start_a != start_b) return start_b;
    return a > b;
}

}  // namespace ailog
