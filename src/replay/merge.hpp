// TimeMerge: the entries of several streams, oldest first. At the same
// instant a start entry goes before others (its end may be in another
// stream), and otherwise the order of the streams is kept.
//
// Given the time of each stream's first entry, a stream is started only when
// the merge reaches that time, and a stream that has ended frees what it
// read with: a history of many files that follow one another (the logs of
// pods that came and went) holds only the files that overlap in time.
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
    // `first_ms[i]`: the time of stream i's first entry (first_entry_times),
    // or empty: every stream is started at once.
    TimeMerge(const std::vector<std::unique_ptr<EntryStream>>& streams, std::span<const Mapping> mappings,
              std::vector<double> first_ms = {});
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
        start_due();
        if (heap_.empty()) return false;
        i = last_ = heap_.top();
        heap_.pop();
        return true;
    }

private:
    static constexpr size_t kNone = static_cast<size_t>(-1);
    // Starts the streams whose first entry is not later than the next head
    // (all that are left once the others have ended): at a tie the heap
    // orders them as if they had been started at once.
    void start_due();

    struct Later {
        const TimeMerge* merge;
        bool operator()(size_t a, size_t b) const;
    };

    const std::vector<std::unique_ptr<EntryStream>>& streams_;
    std::span<const Mapping> mappings_;
    std::priority_queue<size_t, std::vector<size_t>, Later> heap_;
    size_t last_ = kNone;
    std::vector<double> first_ms_;
    std::vector<size_t> pending_;  // not started yet, by first entry time
    size_t next_pending_ = 0;
};

}  // namespace ailog
