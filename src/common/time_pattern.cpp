// strftime-style time patterns.
#include "common/time_pattern.hpp"

namespace ailog {

namespace {

constexpr std::string_view kMonths[] = {"january", "february", "march",     "april",   "may",      "june",
                                        "july",    "august",   "september", "october", "november", "december"};
constexpr std::string_view kWeekdays[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The index of the name (full, or its first three letters) at s[pos], in
// any case; pos moves past it. -1 when none.
template <size_t N>
int name_at(std::string_view s, size_t& pos, const std::string_view (&names)[N]) {
    for (size_t i = 0; i < N; ++i) {
        for (size_t len : {names[i].size(), size_t{3}}) {
            if (pos + len > s.size()) continue;
            bool same = true;
            for (size_t j = 0; j < len && same; ++j) same = lower(s[pos + j]) == names[i][j];
            if (same) {
                pos += len;
                return static_cast<int>(i);
            }
        }
    }
    return -1;
}

// 1 to max_digits digits at s[pos].
bool number_at(std::string_view s, size_t& pos, size_t min_digits, size_t max_digits, int64_t& out) {
    size_t n = 0;
    int64_t v = 0;
    while (n < max_digits && pos + n < s.size() && s[pos + n] >= '0' && s[pos + n] <= '9') {
        v = v * 10 + (s[pos + n] - '0');
        ++n;
    }
    if (n < min_digits) return false;
    pos += n;
    out = v;
    return true;
}

struct PatternFields {
    int64_t year = -1, month = -1, day = -1, hour = 0, minute = 0, second = 0;
    int hour12 = -1;  // %I: 1-12
    int pm = -1;      // %p: 0 AM, 1 PM
    double fraction_ms = 0;
    bool zoned = false;
    int offset_min = 0;
    bool epoch = false;
    int64_t epoch_s = 0;
};

// Reads `s` from `pos` by `pattern` into `f`, moving `pos` past what it
// read; false when it does not fit.
bool read_pattern(std::string_view s, size_t& pos, std::string_view pattern, PatternFields& f) {
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == ' ') {
            if (pos >= s.size() || s[pos] != ' ') return false;
            while (pos < s.size() && s[pos] == ' ') ++pos;
            continue;
        }
        if (c != '%' || i + 1 == pattern.size()) {
            if (pos >= s.size() || s[pos] != c) return false;
            ++pos;
            continue;
        }
        const char d = pattern[++i];
        int64_t v = 0;
        switch (d) {
            case 'Y':
                if (!number_at(s, pos, 4, 4, f.year)) return false;
                break;
            case 'y':
                if (!number_at(s, pos, 2, 2, v)) return false;
                f.year = v < 69 ? 2000 + v : 1900 + v;
                break;
            case 'm':
                if (!number_at(s, pos, 1, 2, f.month)) return false;
                break;
            case 'e':
                if (pos < s.size() && s[pos] == ' ') ++pos;
                [[fallthrough]];
            case 'd':
                if (!number_at(s, pos, 1, 2, f.day)) return false;
                break;
            case 'H':
                if (!number_at(s, pos, 1, 2, f.hour)) return false;
                break;
            case 'I':
                if (!number_at(s, pos, 1, 2, v) || v < 1 || v > 12) return false;
                f.hour12 = static_cast<int>(v);
                break;
            case 'M':
                if (!number_at(s, pos, 1, 2, f.minute)) return false;
                break;
            case 'S':
                if (!number_at(s, pos, 1, 2, f.second)) return false;
                break;
            case 'f': {
                const size_t start = pos;
                int64_t frac = 0, scale = 1;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                    if (pos - start < 9) {
                        frac = frac * 10 + (s[pos] - '0');
                        scale *= 10;
                    }
                    ++pos;
                }
                if (pos == start) return false;
                f.fraction_ms = static_cast<double>(frac) * 1000.0 / static_cast<double>(scale);
                break;
            }
            case 'p':
                if (pos + 2 > s.size() || lower(s[pos + 1]) != 'm') return false;
                if (lower(s[pos]) == 'a')
                    f.pm = 0;
                else if (lower(s[pos]) == 'p')
                    f.pm = 1;
                else
                    return false;
                pos += 2;
                break;
            case 'b':
            case 'h':
            case 'B': {
                const int m = name_at(s, pos, kMonths);
                if (m < 0) return false;
                f.month = m + 1;
                break;
            }
            case 'a':
            case 'A':
                if (name_at(s, pos, kWeekdays) < 0) return false;
                break;
            case 'z': {
                if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
                    ++pos;
                    f.zoned = true;
                    break;
                }
                if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
                const int sign = s[pos] == '-' ? -1 : 1;
                ++pos;
                int64_t oh = 0, om = 0;
                if (!number_at(s, pos, 2, 2, oh)) return false;
                if (pos < s.size() && s[pos] == ':') ++pos;
                if (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && !number_at(s, pos, 2, 2, om)) return false;
                if (oh > 23 || om > 59) return false;
                f.offset_min = sign * static_cast<int>(oh * 60 + om);
                f.zoned = true;
                break;
            }
            case 's': {
                const bool negative = pos < s.size() && s[pos] == '-';
                if (negative) ++pos;
                if (!number_at(s, pos, 1, 12, f.epoch_s)) return false;
                if (negative) f.epoch_s = -f.epoch_s;
                f.epoch = true;
                break;
            }
            case 'T':
                if (!read_pattern(s, pos, "%H:%M:%S", f)) return false;
                break;
            case 'F':
                if (!read_pattern(s, pos, "%Y-%m-%d", f)) return false;
                break;
            case '%':
                if (pos >= s.size() || s[pos] != '%') return false;
                ++pos;
                break;
            default:
                return false;
        }
    }
    return true;
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int days_in_month(int64_t y, int64_t m) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : kDays[m - 1];
}

std::optional<PatternTime> read_time_pattern(std::string_view s, std::string_view pattern) {
    PatternFields f;
    size_t pos = 0;
    if (!read_pattern(s, pos, pattern, f) || pos != s.size()) return std::nullopt;
    PatternTime t;
    t.fraction_ms = f.fraction_ms;
    if (f.epoch) {
        t.epoch = true;
        t.seconds = f.epoch_s;
        return t;
    }
    if (f.hour12 >= 0) {
        if (f.pm < 0) return std::nullopt;
        f.hour = f.hour12 % 12 + (f.pm == 1 ? 12 : 0);
    }
    if (f.year < 0 || f.month < 1 || f.month > 12 || f.day < 1 || f.day > days_in_month(f.year, f.month) ||
        f.hour > 23 || f.minute > 59 || f.second > 60)
        return std::nullopt;
    const int64_t days = days_from_civil(f.year, static_cast<unsigned>(f.month), static_cast<unsigned>(f.day));
    t.seconds = days * 86400 + f.hour * 3600 + f.minute * 60 + f.second;
    t.zoned = f.zoned;
    t.offset_min = f.offset_min;
    return t;
}

std::optional<std::string> check_time_pattern(std::string_view pattern) {
    static constexpr std::string_view kKnown = "YymdeHIMSfpbhBaAzsTF%";
    bool year = false, month = false, day = false, epoch = false, hour12 = false, ampm = false;
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] != '%') continue;
        if (i + 1 == pattern.size()) return "the pattern ends in a lone %";
        const char d = pattern[++i];
        if (kKnown.find(d) == std::string_view::npos)
            return std::string("unknown directive %") + d +
                   " (known: %Y %y %m %d %e %H %I %M %S %f %p %b %h %B %a %A %z %s %T %F %%)";
        year |= d == 'Y' || d == 'y' || d == 'F';
        month |= d == 'm' || d == 'b' || d == 'h' || d == 'B' || d == 'F';
        day |= d == 'd' || d == 'e' || d == 'F';
        epoch |= d == 's';
        hour12 |= d == 'I';
        ampm |= d == 'p';
    }
    if (!epoch && !(year && month && day)) return "a time pattern needs a year, a month and a day (or %s)";
    if (hour12 && !ampm) return "%I needs %p (AM or PM)";
    return std::nullopt;
}

}  // namespace ailog
