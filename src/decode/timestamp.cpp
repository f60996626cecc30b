// ISO 8601 and epoch timestamps to milliseconds since the Unix epoch.
#include "decode/timestamp.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

#include "common/time_pattern.hpp"
#include "decode/timezone.hpp"

namespace ailog {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        const char c = s[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

ParsedTime invalid(TimeError e) {
    ParsedTime t;
    t.error = e;
    return t;
}

ParsedTime checked(double ms, int32_t fold_ms = 0) {
    if (!(ms >= 0 && ms < kMaxTimestampMs)) return invalid(TimeError::OutOfRange);
    return {ms, fold_ms, TimeError::None};
}

}  // namespace

ParsedTime parse_iso8601(std::string_view s, LocalTimeConverter* local) {
    int year, month, day, hour, minute, second;
    if (!digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
        !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, hour) ||
        s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second))
        return invalid(TimeError::Malformed);
    // Second 60 is a leap second (counted as the next second's start, as POSIX time does).
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60)
        return invalid(TimeError::Malformed);

    size_t pos = 19;
    double fraction_ms = 0;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        const size_t start = pos;
        // Keep nanosecond precision at most; further digits cannot change a double of ms.
        int64_t frac = 0;
        int64_t scale = 1;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (pos - start < 9) {
                frac = frac * 10 + (s[pos] - '0');
                scale *= 10;
            }
            ++pos;
        }
        if (pos == start) return invalid(TimeError::Malformed);
        fraction_ms = static_cast<double>(frac) * 1000.0 / static_cast<double>(scale);
    }

    bool zoned = false;
    int offset_min = 0;
    if (pos < s.size()) {
        const char z = s[pos];
        if (z == 'Z' || z == 'z') {
            ++pos;
        } else if (z == '+' || z == '-') {
            int oh, om;
            if (!digits(s, pos + 1, 2, oh)) return invalid(TimeError::Malformed);
            size_t after = pos + 3;
            if (after < s.size() && s[after] == ':') ++after;
            if (!digits(s, after, 2, om)) return invalid(TimeError::Malformed);
            if (oh > 23 || om > 59) return invalid(TimeError::Malformed);
            offset_min = (oh * 60 + om) * (z == '-' ? -1 : 1);
            pos = after + 2;
        } else {
            return invalid(TimeError::Malformed);
        }
        zoned = true;
    }
    if (pos != s.size()) return invalid(TimeError::Malformed);

    const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const int64_t wall = days * 86400 + hour * 3600 + minute * 60 + second;
    int64_t secs = wall - offset_min * 60;
    int32_t fold_s = 0;
    if (!zoned && local != nullptr) secs = local->to_utc(wall, fold_s);
    // Integral milliseconds first, so whole-ms timestamps stay exact.
    const int64_t whole_ms = secs * 1000 + static_cast<int64_t>(fraction_ms);
    return checked(
        static_cast<double>(whole_ms) + (fraction_ms - static_cast<double>(static_cast<int64_t>(fraction_ms))),
        fold_s * 1000);
}

std::optional<double> parse_iso8601_ms(std::string_view s) {
    const ParsedTime t = parse_iso8601(s, nullptr);
    if (t.error != TimeError::None) return std::nullopt;
    return t.ms;
}

ParsedTime epoch_time(double v) {
    if (!std::isfinite(v)) return invalid(TimeError::OutOfRange);
    const double a = v < 0 ? -v : v;
    double ms;
    if (a < 1e11)
        ms = v * 1000.0;  // seconds
    else if (a < 1e14)
        ms = v;  // milliseconds
    else if (a < 1e17)
        ms = v / 1000.0;  // microseconds
    else
        ms = v / 1e6;  // nanoseconds
    return checked(ms);
}

ParsedTime epoch_time(double v, TimeFormat unit) {
    switch (unit) {
        case TimeFormat::EpochS:
            return std::isfinite(v) ? checked(v * 1000.0) : invalid(TimeError::OutOfRange);
        case TimeFormat::EpochMs:
            return std::isfinite(v) ? checked(v) : invalid(TimeError::OutOfRange);
        case TimeFormat::EpochUs:
            return std::isfinite(v) ? checked(v / 1000.0) : invalid(TimeError::OutOfRange);
        case TimeFormat::EpochNs:
            return std::isfinite(v) ? checked(v / 1e6) : invalid(TimeError::OutOfRange);
        default:
            return epoch_time(v);
    }
}

ParsedTime epoch_text(std::string_view s, TimeFormat unit) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return invalid(TimeError::Malformed);
    return epoch_time(v, unit);
}

ParsedTime parse_time_pattern(std::string_view s, std::string_view pattern, LocalTimeConverter* local) {
    const auto w = read_time_pattern(s, pattern);
    if (!w) return invalid(TimeError::Malformed);
    if (w->epoch) return checked(static_cast<double>(w->seconds) * 1000.0 + w->fraction_ms);
    int64_t secs = w->seconds - w->offset_min * 60;
    int32_t fold_s = 0;
    if (!w->zoned && local != nullptr) secs = local->to_utc(w->seconds, fold_s);
    const int64_t whole_ms = secs * 1000 + static_cast<int64_t>(w->fraction_ms);
    return checked(
        static_cast<double>(whole_ms) + (w->fraction_ms - static_cast<double>(static_cast<int64_t>(w->fraction_ms))),
        fold_s * 1000);
}

}  // namespace ailog
