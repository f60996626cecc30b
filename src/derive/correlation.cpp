// CorrelationTable: hashing, open-addressing index, slab bookkeeping.
#include "derive/correlation.hpp"

#include "common/hash.hpp"

namespace ailog {

KeyHash hash_key(std::string_view key) {
    const auto h = hash64x2(key, 0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL);
    return {h[0], h[1]};
}

CorrelationTable::CorrelationTable(Limits limits) : limits_(limits), index_(64, 0) {}

size_t CorrelationTable::find_index(const KeyHash& key) const {
    const size_t mask = index_.size() - 1;
    for (size_t pos = key.a & mask;; pos = (pos + 1) & mask) {
        const uint32_t v = index_[pos];
        if (v == 0) return static_cast<size_t>(-1);
        if (slots_[v - 1].entry.key == key) return pos;
    }
}

void CorrelationTable::index_insert(uint32_t slot) {
    const size_t mask = index_.size() - 1;
    size_t pos = slots_[slot].entry.key.a & mask;
    while (index_[pos] != 0) pos = (pos + 1) & mask;
    index_[pos] = slot + 1;
}

// Backward-shift deletion keeps linear probing correct without tombstones.
void CorrelationTable::index_erase(size_t pos) {
    const size_t mask = index_.size() - 1;
    index_[pos] = 0;
    for (size_t next = (pos + 1) & mask; index_[next] != 0; next = (next + 1) & mask) {
        const size_t home = slots_[index_[next] - 1].entry.key.a & mask;
        // Move `next` into the hole if its home is not in (pos, next].
        const bool in_range = pos <= next ? (home > pos && home <= next) : (home > pos || home <= next);
        if (!in_range) {
            index_[pos] = index_[next];
            index_[next] = 0;
            pos = next;
        }
    }
}

void CorrelationTable::unlink_and_free(uint32_t slot) {
    Slot& s = slots_[slot];
    if (s.prev != kNil)
        slots_[s.prev].next = s.next;
    else
        head_ = s.next;
    if (s.next != kNil)
        slots_[s.next].prev = s.prev;
    else
        tail_ = s.prev;
    InputList& in = inputs_[s.entry.input];
    if (s.input_prev != kNil)
        slots_[s.input_prev].input_next = s.input_next;
    else
        in.head = s.input_next;
    if (s.input_next != kNil)
        slots_[s.input_next].input_prev = s.input_prev;
    else
        in.tail = s.input_prev;
    free_.push_back(slot);
    --size_;
}

void CorrelationTable::grow_index() {
    std::vector<uint32_t> old(index_.size() * 2, 0);
    old.swap(index_);
    for (uint32_t v : old)
        if (v != 0) index_insert(v - 1);
}

bool CorrelationTable::take(const KeyHash& key, Entry& out) {
    const size_t pos = find_index(key);
    if (pos == static_cast<size_t>(-1)) return false;
    const uint32_t slot = index_[pos] - 1;
    out = slots_[slot].entry;
    index_erase(pos);
    unlink_and_free(slot);
    return true;
}

}  // namespace ailog
