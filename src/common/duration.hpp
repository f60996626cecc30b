// Durations written the Prometheus way: "500ms", "15s", "1h30m", "7d".
#pragma once

#include <optional>
#include <string_view>

namespace ailog {

// Milliseconds; nothing if `s` is not a duration. Units: ms s m h d w y.
std::optional<double> parse_duration_ms(std::string_view s);

}  // namespace ailog
