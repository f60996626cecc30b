// Event: the value passed from decode to derive. It holds views into the
// decoder's buffers, valid until the next line is decoded, and numbers.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ailog {

inline constexpr int kMaxFields = 24;

struct FieldValue {
    std::string_view str;  // String fields
    double num = 0;        // Number fields; Timestamp fields: ms since epoch
    bool present = false;
};

struct Event {
    int kind = -1;          // index into Mapping::kinds
    uint8_t mapping = 0;    // index into the Mappings that decoded it
    double time_ms = 0;     // ms since the Unix epoch
    bool has_time = false;  // false: the entry had no usable time of its own
    // time_ms is the time the line was read, not a log time (neither the
    // entry nor its wrapper had a usable one).
    bool arrival_time = false;
    // The entry's own time was present but unusable (a TimeError: malformed,
    // out of range); 0 when valid or absent.
    uint8_t time_error = 0;
    // A zone-less local time in a repeated hour: time_ms is its first
    // occurrence, time_ms + fold_ms the second (resolved per input, in order).
    int32_t fold_ms = 0;
    std::array<FieldValue, kMaxFields> fields{};
};

}  // namespace ailog
