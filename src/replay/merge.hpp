// TimeMerge: the entries of several streams, oldest first. At the same
// instant a start entry goes before others (its end may be in another
// stream), and otherwise the order of the streams is kept.
#pragma once

#include <cstddef>
#include <memory>
#include <queue>
#include <span>
#include <vector>

#include "ailog/mapping.hpp"
#include "replay/entry_stream.hpp"

namespace ailog {

class TimeMerge {
public:
    // Reads the first entry of every stream.
    TimeMerge(const std::vector<std::unique_ptr<EntryStream>>& streams, std::span<const Mapping> mappings);
    TimeMerge(const std::vector<std::unique_ptr<EntryStream>>& streams, const Mapping& mapping)
        : TimeMerge(streams, std::span<const Mapping>(&mapping, 1)) {}
    TimeMerge(const TimeMerge&) = delete;
    TimeMerge& operator=(const TimeMerge&) = delete;

    // The stream whose head comes next into `i`; false once every stream
    // has ended. The head stays valid until the following call, which moves
    // that stream on.
    bool next(size_t& i) {
        if (last_ != kNone && streams_[last_]->advance()) heap_.push(last_);
        last_ = kNone;
        if (heap_.empty()) return false;
        i = last_ = heap_.top();
        heap_.pop();
        return true;
    }

private:
    static constexpr size_t kNone = static_cast<size_t>(-1);
    struct Later {
        const TimeMerge* merge;
        bool operator()(size_t a, size_t b) const;
    };

    const std::vector<std::unique_ptr<EntryStream>>& streams_;
    std::span<const Mapping> mappings_;
    std::priority_queue<size_t, std::vector<size_t>, Later> heap_;
    size_t last_ = kNone;
};

}  // namespace ailog
