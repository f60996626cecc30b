// JsonDecoder: one JSON log entry -> Event, driven by a Mapping.
//
// The mapping's field paths are compiled into a small key tree; each line is
// walked once with simdjson's on-demand parser, reading keys in any order and
// skipping every value the mapping does not need. Strings in the Event point
// into the parser's buffer and stay valid until the next decode().
#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ailog/event.hpp"
#include "ailog/mapping.hpp"
#include "ailog/skip_reason.hpp"
#include "decode/timestamp.hpp"
#include "decode/timezone.hpp"

namespace ailog {

class JsonDecoder {
public:
    // `zone`: of timestamps written without a zone or an offset.
    explicit JsonDecoder(const Mapping& mapping, std::shared_ptr<const TimeZone> zone = TimeZone::utc());

    // `capacity`: readable bytes from payload.data(), at least
    // payload.size() + SIMDJSON_PADDING. Returns the skip reason, or nothing
    // when `ev` holds a mapped entry.
    std::optional<SkipReason> decode(std::string_view payload, size_t capacity, Event& ev);

    // After a decode() that said NotMatched: the entry kind that came closest
    // (the most of its message and conditions held) and the first of them
    // that failed, e.g. `failed: level is "info", not "error"`.
    std::string why_not_matched() const;

private:
    struct Node {
        std::string key;
        std::vector<int> children;  // node indices
        // Children by the first byte of their key ('"' for an empty key),
        // then chained through same_first.
        std::array<int16_t, 256> by_first;
        int same_first = -1;
        int field = -1;               // leaf: field index
        int alt = 0;                  // leaf: priority among the field's paths
        uint32_t subtree_fields = 0;  // fields at or below this node
    };
    static constexpr int kMaxMessageAlts = 4;

    // Walks one object level; returns an error for malformed JSON.
    simdjson::error_code walk(simdjson::ondemand::object& obj, int node);
    simdjson::error_code read_leaf(simdjson::ondemand::value& v, const Node& leaf);
    std::optional<SkipReason> classify_non_object(std::string_view payload, size_t capacity, char first);
    std::optional<SkipReason> classify_broken(std::string_view payload, size_t capacity, Event& ev);
    int match_kind();
    bool conditions_hold(int kind);

    // The last verdicts of one `matches` condition, by value (values up to
    // kMaxValue bytes; longer ones are matched each time).
    struct MatchMemo {
        static constexpr size_t kSlots = 64;
        static constexpr size_t kMaxValue = 256;
        struct Slot {
            size_t hash = 0;
            std::string value;
            bool result = false;
            bool used = false;
        };
        std::array<Slot, kSlots> slots;
        bool holds(const Condition& c, const FieldValue& v);
    };

    const Mapping& mapping_;
    std::vector<MatchMemo> memos_;           // one per `matches` condition
    std::vector<std::vector<int>> memo_of_;  // per kind, per condition: its memo, or -1
    std::vector<Node> nodes_;                // nodes_[0] is the root
    std::vector<uint32_t> used_in_;          // per field: kinds whose rules read it
    simdjson::ondemand::parser parser_;

    // Per-line scratch.
    Event* ev_ = nullptr;
    const char* end_ = nullptr;  // of the readable bytes
    int alt_of_[kMaxFields]{};
    std::string_view message_alts_[kMaxMessageAlts];
    // Deferred problems: they only count if the line is a mapped entry whose
    // kind reads the field.
    uint32_t wrong_type_ = 0;
    uint32_t invalid_value_ = 0;
    TimeError time_error_ = TimeError::None;  // of the time field, when unusable
    LocalTimeConverter local_time_;
};

}  // namespace ailog
