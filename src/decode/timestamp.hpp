// Timestamp parsing for log entries and wrappers: ISO 8601 / RFC 3339 text
// and epoch numbers. Results are milliseconds since the Unix epoch (UTC).
#pragma once

#include <optional>
#include <string_view>

namespace ailog {

// "2025-06-01T12:00:00.029Z", "2025-06-01T14:00:00.029+02:00", "+0200", a
// space instead of 'T', any number of fraction digits. Without a zone the
// time is taken as UTC.
std::optional<double> parse_iso8601_ms(std::string_view s);

// Epoch number in seconds, milliseconds, microseconds or nanoseconds, told
// apart by magnitude (valid for dates from 1973 to 2286).
double epoch_to_ms(double v);

}  // namespace ailog
