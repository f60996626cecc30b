// CorrelationTable: open start entries by key (requestId), so an end entry
// can find when its call started.
//
// Bounded by entry count and by age; the oldest entries go first. Keys are
// kept as 128-bit hashes (no per-entry allocation; a false match among
// 10^5 open keys has a probability below 10^-28). Storage is a slab with a
// free list, an open-addressing index over it, and a doubly linked list in
// start order for eviction: insert, find and erase are O(1) and allocate
// only when the table grows.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace ailog {

struct KeyHash {
    uint64_t a = 0;
    uint64_t b = 0;
    bool operator==(const KeyHash&) const = default;
};
KeyHash hash_key(std::string_view key);

enum class EvictReason : uint8_t { Age, Capacity, Replaced };

class CorrelationTable {
public:
    struct Entry {
        KeyHash key;
        double start_ms = 0;
        uint32_t payload = 0;  // caller's data (the in-flight series)
    };

    struct Limits {
        size_t max_entries = 100000;
        double max_age_ms = 10 * 60 * 1000.0;
    };

    explicit CorrelationTable(Limits limits);

    // Adds an open start. on_evict(const Entry&, EvictReason) is called for
    // an entry pushed out to make room, or an earlier start with the same key.
    template <class OnEvict>
    void insert(const Entry& e, OnEvict&& on_evict);

    // Removes and returns the start for `key`, if it is open.
    bool take(const KeyHash& key, Entry& out);

    // Evicts entries that started before now_ms - max_age.
    template <class OnEvict>
    void expire(double now_ms, OnEvict&& on_evict);

    size_t size() const { return size_; }
    const Limits& limits() const { return limits_; }

    // Entries oldest first (for the state file).
    template <class F>
    void for_each(F&& f) const {
        for (uint32_t i = head_; i != kNil; i = slots_[i].next) f(slots_[i].entry);
    }

private:
    static constexpr uint32_t kNil = 0xffffffffu;
    struct Slot {
        Entry entry;
        uint32_t prev = kNil;
        uint32_t next = kNil;
    };

    size_t find_index(const KeyHash& key) const;  // position in index_, or npos
    void index_insert(uint32_t slot);
    void index_erase(size_t pos);
    void unlink_and_free(uint32_t slot);
    void grow_index();

    Limits limits_;
    std::vector<Slot> slots_;
    std::vector<uint32_t> free_;
    std::vector<uint32_t> index_;  // slot + 1; 0 = empty
    uint32_t head_ = kNil;         // oldest
    uint32_t tail_ = kNil;         // newest
    size_t size_ = 0;
};

template <class OnEvict>
void CorrelationTable::insert(const Entry& e, OnEvict&& on_evict) {
    if (size_t pos = find_index(e.key); pos != static_cast<size_t>(-1)) {
        const uint32_t slot = index_[pos] - 1;
        const Entry old = slots_[slot].entry;
        index_erase(pos);
        unlink_and_free(slot);
        on_evict(old, EvictReason::Replaced);
    }
    if (limits_.max_entries == 0) return;
    while (size_ >= limits_.max_entries) {
        const uint32_t slot = head_;
        const Entry old = slots_[slot].entry;
        index_erase(find_index(old.key));
        unlink_and_free(slot);
        on_evict(old, EvictReason::Capacity);
    }
    uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    slots_[slot] = Slot{e, tail_, kNil};
    if (tail_ != kNil)
        slots_[tail_].next = slot;
    else
        head_ = slot;
    tail_ = slot;
    ++size_;
    if ((size_ + 1) * 2 > index_.size()) grow_index();
    index_insert(slot);
}

template <class OnEvict>
void CorrelationTable::expire(double now_ms, OnEvict&& on_evict) {
    const double cutoff = now_ms - limits_.max_age_ms;
    while (head_ != kNil && slots_[head_].entry.start_ms < cutoff) {
        const uint32_t slot = head_;
        const Entry old = slots_[slot].entry;
        index_erase(find_index(old.key));
        unlink_and_free(slot);
        on_evict(old, EvictReason::Age);
    }
}

}  // namespace ailog
