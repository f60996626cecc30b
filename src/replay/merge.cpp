// TimeMerge: a heap of stream indices ordered by their heads.
#include "replay/merge.hpp"

#include <algorithm>
#include <limits>

namespace ailog {
namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TimeMerge::TimeMerge(const std::vector<std::unique_ptr<EntryStream>>& streams, std::span<const Mapping> mappings,
                     std::vector<double> first_ms)
    : streams_(streams), mappings_(mappings), heap_(Later{this}), first_ms_(std::move(first_ms)) {
    if (first_ms_.size() != streams_.size()) first_ms_.assign(streams_.size(), -kInf);
    for (size_t i = 0; i < streams_.size(); ++i) pending_.push_back(i);
    std::stable_sort(pending_.begin(), pending_.end(), [&](size_t a, size_t b) { return first_ms_[a] < first_ms_[b]; });
    start_due();
}

void TimeMerge::start_due() {
    while (next_pending_ < pending_.size()) {
        const size_t i = pending_[next_pending_];
        if (!heap_.empty() && first_ms_[i] > streams_[heap_.top()]->head_time_ms) return;
        ++next_pending_;
        if (streams_[i]->advance()) heap_.push(i);
    }
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
