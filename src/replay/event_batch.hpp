// EventBatch: decoded entries packed to be handed from a decoding thread to
// the merging one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ailog/event.hpp"
#include "ailog/mapping.hpp"

namespace ailog {

// What one thread writes on every line or entry is kept on cache lines of
// its own: a counter beside a field another thread reads on every entry costs
// a cache-line transfer each time (the stream's `head` is read by the merge).
constexpr size_t kCacheLine = 64;

// Decoded entries handed between threads, packed: per entry its kind, time
// and which fields are present, then one 8-byte slot per present field (a
// number, or where a string's bytes are in the batch's arena). Only the
// fields read after decoding are copied (Mapping::derived_fields: not the
// message or the time, already read), and a batch's memory is reused once
// grown.
class EventBatch {
public:
    // `capacity`: the entries a batch is filled with before it is handed on.
    EventBatch(std::span<const Mapping> mappings, size_t capacity) {
        size_t most = 0;
        for (const Mapping& m : mappings) {
            Layout& l = layouts_.emplace_back();
            l.nfields = m.fields.size();
            l.kept_fields = m.derived_fields();
            for (size_t i = 0; i < l.nfields; ++i)
                if (m.fields[i].type == FieldType::String || m.fields[i].type == FieldType::Level)
                    l.string_fields |= 1u << i;
            most = std::max(most, l.nfields);
        }
        entries_.reserve(capacity);
        slots_.reserve(capacity * most);
    }
    EventBatch(const Mapping& mapping, size_t capacity) : EventBatch(std::span<const Mapping>(&mapping, 1), capacity) {}

    size_t size() const { return entries_.size(); }
    size_t arena_bytes() const { return arena_.size(); }
    void clear() {
        entries_.clear();
        slots_.clear();
        arena_.clear();
    }
    // Written member by member in place: a braced Entry or Slot is assembled
    // on the stack and read back wider than it was written (a stalled store
    // forward on every entry).
    void append(const Event& e) {
        const auto first_slot = static_cast<uint32_t>(slots_.size());
        const Layout& l = layouts_[e.mapping];
        uint32_t present = 0;
        for (size_t i = 0; i < l.nfields; ++i) {
            const FieldValue& f = e.fields[i];
            if (!f.present || !(l.kept_fields & (1u << i))) continue;
            present |= 1u << i;
            Slot& slot = slots_.emplace_back();
            if (l.string_fields & (1u << i)) {
                slot.str.offset = static_cast<uint32_t>(arena_.size());
                slot.str.size = static_cast<uint32_t>(f.str.size());
                arena_.append(f.str);
            } else {
                slot.num = f.num;
            }
        }
        Entry& entry = entries_.emplace_back();
        entry.time_ms = e.time_ms;
        entry.fold_ms = e.fold_ms;
        entry.kind = static_cast<int16_t>(e.kind);
        entry.mapping = e.mapping;
        entry.present = present;
        entry.first_slot = first_slot;
    }
    // Entry k into `e` (strings valid while the batch is unchanged).
    void load(size_t k, Event& e) const {
        const Entry& entry = entries_[k];
        e.kind = entry.kind;
        e.mapping = entry.mapping;
        e.time_ms = entry.time_ms;
        e.fold_ms = entry.fold_ms;
        e.has_time = true;
        const Layout& l = layouts_[entry.mapping];
        const Slot* slot = slots_.data() + entry.first_slot;
        for (size_t i = 0; i < l.nfields; ++i) {
            FieldValue& f = e.fields[i];
            f.present = (entry.present & (1u << i)) != 0;
            if (!f.present) continue;
            if (l.string_fields & (1u << i))
                f.str = std::string_view(arena_.data() + slot->str.offset, slot->str.size);
            else
                f.num = slot->num;
            ++slot;
        }
    }

private:
    static_assert(kMaxFields <= 32, "presence is a 32-bit mask");
    struct Entry {
        double time_ms;
        int32_t fold_ms;
        int16_t kind;  // at most 32 kinds per mapping
        uint8_t mapping;
        uint32_t present;  // bit i: field i has a slot
        uint32_t first_slot;
    };
    union Slot {
        double num;
        struct {
            uint32_t offset;  // in arena_; a batch is handed on before it holds 4 GiB
            uint32_t size;    // lines are at most 1 GiB (--max-line-bytes)
        } str;
    };
    // Per mapping: which fields of its entries are copied, and how.
    struct Layout {
        size_t nfields = 0;
        uint32_t kept_fields = 0;    // bit i: field i is copied
        uint32_t string_fields = 0;  // bit i: field i is a string
    };
    std::vector<Layout> layouts_;
    std::vector<Entry> entries_;
    std::vector<Slot> slots_;
    std::string arena_;
};

}  // namespace ailog
