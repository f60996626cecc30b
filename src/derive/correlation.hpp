// CorrelationTable: open start entries by key (input and requestId), so an
// end entry can find when its call started.
//
// Bounded by entry count and by age. Age is measured on two clocks, never
// mixed: the log time of the start's own input (an input's clock may be
// hours off, or another zone's local time), and the time the start was read
// (the wall clock live; log time in a replay). Each input's starts are kept
// in their order, and all starts in read order, so either age check and the
// capacity bound only look at the oldest entries.
//
// Keys are kept as 128-bit hashes (no per-entry allocation; a false match
// among 10^5 open keys has a probability below 10^-28). Storage is a slab
// with a free list, an open-addressing index over it, and two doubly linked
// lists through it: insert, find and erase are O(1) and allocate only when
// the table grows.
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
// The key of `id` within an input whose name hashed to `input`: the same id
// in two inputs gives two keys.
inline KeyHash input_key(const KeyHash& input, const KeyHash& id) {
    return {id.a ^ input.a, id.b ^ input.b};
}

enum class EvictReason : uint8_t { Age, Capacity, Replaced };

class CorrelationTable {
public:
    struct Entry {
        KeyHash key;
        double start_ms = 0;   // log time, on the input's clock
        double read_ms = 0;    // when it was read
        uint32_t payload = 0;  // caller's data (the in-flight series)
        uint32_t carry = 0;    // caller's data (values kept for the end entry)
        uint32_t input = 0;    // caller's input number (small: lists are indexed by it)
        bool log_time = true;  // start_ms is a log time, not the time the start was read
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

    // Evicts the starts of `input` logged before log_now_ms - max_age
    // (log_now_ms: a time on that input's clock).
    template <class OnEvict>
    void expire_input(uint32_t input, double log_now_ms, OnEvict&& on_evict);
    // Evicts the starts read before read_now_ms - max_age.
    template <class OnEvict>
    void expire_read(double read_now_ms, OnEvict&& on_evict);
    // Open starts of `input`.
    bool input_empty(uint32_t input) const { return input >= inputs_.size() || inputs_[input].head == kNil; }

    size_t size() const { return size_; }
    const Limits& limits() const { return limits_; }

    // Entries in read order, oldest first (for the state file).
    template <class F>
    void for_each(F&& f) const {
        for (uint32_t i = head_; i != kNil; i = slots_[i].next) f(slots_[i].entry);
    }

private:
    static constexpr uint32_t kNil = 0xffffffffu;
    struct Slot {
        Entry entry;
        uint32_t prev = kNil;  // read order, all inputs
        uint32_t next = kNil;
        uint32_t input_prev = kNil;  // order within the entry's input
        uint32_t input_next = kNil;
    };
    struct InputList {
        uint32_t head = kNil;
        uint32_t tail = kNil;
    };
    // Removes the entry at `pos` in index_ (and its slot), then tells on_evict.
    void evict_at(size_t pos, EvictReason r, auto&& on_evict) {
        const uint32_t slot = index_[pos] - 1;
        const Entry old = slots_[slot].entry;
        index_erase(pos);
        unlink_and_free(slot);
        on_evict(old, r);
    }
    void evict(uint32_t slot, EvictReason r, auto&& on_evict) {
        evict_at(find_index(slots_[slot].entry.key), r, on_evict);
    }

    size_t find_index(const KeyHash& key) const;  // position in index_, or npos
    void index_insert(uint32_t slot);
    void index_erase(size_t pos);
    void unlink_and_free(uint32_t slot);
    void grow_index();

    Limits limits_;
    std::vector<Slot> slots_;
    std::vector<uint32_t> free_;
    std::vector<uint32_t> index_;  // slot + 1; 0 = empty
    uint32_t head_ = kNil;         // read first
    uint32_t tail_ = kNil;         // read last
    std::vector<InputList> inputs_;
    size_t size_ = 0;
};

template <class OnEvict>
void CorrelationTable::insert(const Entry& e, OnEvict&& on_evict) {
    if (size_t pos = find_index(e.key); pos != static_cast<size_t>(-1)) evict_at(pos, EvictReason::Replaced, on_evict);
    if (limits_.max_entries == 0) {
        on_evict(e, EvictReason::Capacity);  // no room at all: its caller's data is let go
        return;
    }
    while (size_ >= limits_.max_entries) evict(head_, EvictReason::Capacity, on_evict);
    uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    if (e.input >= inputs_.size()) inputs_.resize(e.input + 1);
    InputList& in = inputs_[e.input];
    slots_[slot] = Slot{e, tail_, kNil, in.tail, kNil};
    if (tail_ != kNil)
        slots_[tail_].next = slot;
    else
        head_ = slot;
    tail_ = slot;
    if (in.tail != kNil)
        slots_[in.tail].input_next = slot;
    else
        in.head = slot;
    in.tail = slot;
    ++size_;
    if ((size_ + 1) * 2 > index_.size()) grow_index();
    index_insert(slot);
}

template <class OnEvict>
void CorrelationTable::expire_input(uint32_t input, double log_now_ms, OnEvict&& on_evict) {
    if (input >= inputs_.size()) return;
    const double cutoff = log_now_ms - limits_.max_age_ms;
    // Starts timestamped when read are not on the input's clock: the read
    // clock alone ages them.
    for (uint32_t i = inputs_[input].head; i != kNil;) {
        const Slot& slot = slots_[i];
        const uint32_t next = slot.input_next;
        if (slot.entry.log_time) {
            if (slot.entry.start_ms >= cutoff) break;
            evict(i, EvictReason::Age, on_evict);
        }
        i = next;
    }
}

template <class OnEvict>
void CorrelationTable::expire_read(double read_now_ms, OnEvict&& on_evict) {
    const double cutoff = read_now_ms - limits_.max_age_ms;
    while (head_ != kNil && slots_[head_].entry.read_ms < cutoff) evict(head_, EvictReason::Age, on_evict);
}

}  // namespace ailog
