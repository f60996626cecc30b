// TimeZone: the zone of timestamps written without a zone or an offset
// (winston's "YYYY-MM-DD HH:mm:ss.SSS", many Java and Python loggers), read
// from the system's IANA database (/usr/share/zoneinfo) through date/tz.
//
// A local time maps to one instant, to none (skipped by a spring-forward
// change) or to two (the hour repeated by an autumn change). The repeated
// hour is resolved by the reader of an input, which knows the input's
// previous entry: a LocalTimeConverter gives the first occurrence and how
// far the second one is.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace ailog {

class TimeZone {
public:
    // "UTC", "Local" (the TZ environment variable, else /etc/localtime) or
    // an IANA name such as "America/New_York". Nothing, with `error` set,
    // when the zone is unknown.
    static std::shared_ptr<const TimeZone> locate(std::string_view name, std::string& error);
    static std::shared_ptr<const TimeZone> utc();

    const std::string& name() const { return name_; }
    bool is_utc() const { return zone_ == nullptr; }

    // Seconds of local wall time since 1970-01-01T00:00 -> seconds since the
    // Unix epoch of its first occurrence; `fold_s` is set to how much later
    // the second occurrence is (0 when there is one). A skipped local time
    // takes the offset in force before the change (02:30 on a
    // spring-forward night is 03:30 daylight time).
    int64_t to_utc(int64_t local_s, int32_t& fold_s) const;

    // The range of UTC seconds [begin, end) over which the offset is fixed
    // (for callers that cache the last answer).
    struct Span {
        int64_t begin = 0;
        int64_t end = 0;
        int32_t offset_s = 0;
    };
    Span span_at(int64_t utc_s) const;

private:
    TimeZone(std::string name, const date::time_zone* zone) : name_(std::move(name)), zone_(zone) {}
    std::string name_;
    const date::time_zone* zone_;  // null: UTC
};

// Local time -> UTC for one decoder: the last fixed-offset span is kept, so
// the zone database is consulted about once per offset change, not per line.
class LocalTimeConverter {
public:
    explicit LocalTimeConverter(std::shared_ptr<const TimeZone> zone = TimeZone::utc()) : zone_(std::move(zone)) {}
    void set_zone(std::shared_ptr<const TimeZone> zone) {
        zone_ = std::move(zone);
        cached_ = false;
    }
    const TimeZone& zone() const { return *zone_; }

    int64_t to_utc(int64_t local_s, int32_t& fold_s);

private:
    // A change of offset never comes closer than this to another one, and
    // offsets are within +-26 h: local - offset inside the span shrunk by it
    // cannot be ambiguous or skipped.
    static constexpr int64_t kMargin = 2 * 86400;
    std::shared_ptr<const TimeZone> zone_;
    bool cached_ = false;
    TimeZone::Span span_;
};

}  // namespace ailog
