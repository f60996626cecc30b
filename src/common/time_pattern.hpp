// Times written in a strftime-style pattern ("%d/%b/%Y:%H:%M:%S %z"), read
// into calendar fields. The zone of a zone-less time is the reader's
// business (decode/timestamp.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ailog {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
// (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
// Days in month m (1-12) of year y.
int days_in_month(int64_t y, int64_t m);

// A time read by a pattern.
struct PatternTime {
    // epoch: seconds since the Unix epoch (%s). Otherwise wall-clock seconds
    // since 1970-01-01T00:00 in the written zone: UTC minus offset_min
    // when zoned, local time when not.
    int64_t seconds = 0;
    double fraction_ms = 0;
    bool epoch = false;
    bool zoned = false;
    int offset_min = 0;
};

// %Y (4 digits) %y (2: 1969-2068) %m %d %e %H %I %M %S (1 or 2 digits), %p
// (AM/PM), %f (fraction digits), %b %h %B (month names), %a %A (weekday
// names, not checked), %z (Z, +hh, +hhmm, +hh:mm), %s (epoch seconds), %T
// (%H:%M:%S), %F (%Y-%m-%d), %%. A space matches one or more spaces; any
// other character itself. Nothing when `s` does not fit or names no real
// date and time.
std::optional<PatternTime> read_time_pattern(std::string_view s, std::string_view pattern);

// What is wrong with a pattern (an unknown directive, no year, month and
// day), or nothing.
std::optional<std::string> check_time_pattern(std::string_view pattern);

}  // namespace ailog
