// Label hygiene at derive time: rewriting a value by regular expressions,
// and bounding the distinct values a label takes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "ailog/metric_store.hpp"

namespace re2 {
class RE2;
}

namespace ailog {

// `in` with every non-overlapping match of `re` replaced by `rewrite`
// (\0 is the match, \1 to \9 its groups, \\ a backslash), written to `out`.
// No allocation once `out` has grown to the size of the results.
void replace_all(const re2::RE2& re, std::string_view in, std::string_view rewrite, std::string& out);

// The first `max` distinct values a label takes are kept; later new values
// become the overflow value, counted in `overflowed`.
class LabelLimit {
public:
    LabelLimit(uint32_t max, std::string overflow) : max_(max), overflow_(std::move(overflow)) {}
    // A value the label already has (series restored from a state file or
    // kept across a reload); the overflow value takes no room.
    void seed(std::string_view value) {
        if (value != overflow_ && seen_.size() < max_ && seen_.find(value) == seen_.end()) seen_.emplace(value);
    }
    bool seeded = false;

    std::string_view admit(std::string_view value, uint64_t& overflowed) {
        if (seen_.find(value) != seen_.end()) return value;
        if (seen_.size() < max_) {
            seen_.emplace(value);
            return value;
        }
        ++overflowed;
        return overflow_;
    }

private:
    uint32_t max_;
    std::string overflow_;
    std::unordered_set<std::string, StringHash, std::equal_to<>> seen_;
};

}  // namespace ailog
