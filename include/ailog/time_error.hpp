// Why an entry's own timestamp was not usable. Such entries are treated as
// having no timestamp and counted under exactly one reason (self-metric
// ailog_exporter_invalid_timestamps_total; the order is that of its label).
#pragma once

#include <cstdint>

namespace ailog {

enum class TimeError : uint8_t {
    None,
    Malformed,   // not a time, or not a real date and time, or an offset beyond 23:59
    OutOfRange,  // before 1970 or after 9999
    Future,      // replay: later than the history's end
    kCount,
};
inline constexpr const char* kTimeErrorNames[] = {"", "malformed", "out_of_range", "future"};

}  // namespace ailog
