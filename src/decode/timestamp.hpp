// Timestamp parsing for log entries and wrappers: ISO 8601 / RFC 3339 text
// and epoch numbers. Results are milliseconds since the Unix epoch (UTC).
//
// A timestamp is valid from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z
// and must name a real date and time: anything else is reported as invalid
// (malformed or out of range), never wrapped or clamped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ailog/mapping.hpp"
#include "ailog/time_error.hpp"

namespace ailog {

class LocalTimeConverter;

inline constexpr double kMaxTimestampMs = 253402300800000.0;  // 10000-01-01T00:00:00Z, excluded

struct ParsedTime {
    double ms = 0;
    // Zone-less local time in the repeated hour of a daylight-saving change:
    // `ms` is its first occurrence, `ms + fold_ms` the second.
    int32_t fold_ms = 0;
    TimeError error = TimeError::None;
};

// "2025-06-01T12:00:00.029Z", "2025-06-01T14:00:00.029+02:00", "+0200", a
// space instead of 'T', any number of fraction digits. Without a zone or
// offset the time is local time of `local`'s zone (UTC when null).
ParsedTime parse_iso8601(std::string_view s, LocalTimeConverter* local);

// The same, UTC for zone-less text; nothing when invalid.
std::optional<double> parse_iso8601_ms(std::string_view s);

// Epoch number in seconds, milliseconds, microseconds or nanoseconds, told
// apart by magnitude (valid for dates from 1973 to 2286); invalid when not
// finite or outside the valid range.
ParsedTime epoch_time(double v);

// An epoch number in the given unit (EpochS … EpochNs; Auto: by magnitude).
ParsedTime epoch_time(double v, TimeFormat unit);
// Numeric text ("1717243200.5") in the given unit.
ParsedTime epoch_text(std::string_view s, TimeFormat unit);

// Text in a strftime-style pattern (common/time_pattern.hpp); without %z or
// %s the time is local time of `local`'s zone (UTC when null).
ParsedTime parse_time_pattern(std::string_view s, std::string_view pattern, LocalTimeConverter* local);

// Picks the occurrence of an ambiguous local time nearest to the previous
// entry of the same input (`previous_ms`, 0 when none: the first occurrence).
inline double resolve_fold(double ms, int32_t fold_ms, double previous_ms) {
    if (fold_ms != 0 && previous_ms > 0 && previous_ms > ms + fold_ms / 2.0) return ms + fold_ms;
    return ms;
}

}  // namespace ailog
