#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "decode/timestamp.hpp"
#include "decode/timezone.hpp"

using namespace ailog;

namespace {

std::shared_ptr<const TimeZone> zone(const char* name) {
    std::string error;
    auto z = TimeZone::locate(name, error);
    REQUIRE_MESSAGE(z != nullptr, error);
    return z;
}

TimeError error_of(std::string_view s) {
    return parse_iso8601(s, nullptr).error;
}

}  // namespace

TEST_CASE("ISO 8601 with Z, offsets, fractions") {
    const double base = 1748779200000.0;  // 2025-06-01T12:00:00Z
    CHECK(parse_iso8601_ms("2025-06-01T12:00:00Z") == base);
    CHECK(parse_iso8601_ms("2025-06-01T12:00:00.029Z") == base + 29);
    CHECK(parse_iso8601_ms("2025-06-01T14:00:00.029+02:00") == base + 29);
    CHECK(parse_iso8601_ms("2025-06-01T06:30:00.000-05:30") == base);
    CHECK(parse_iso8601_ms("2025-06-01T14:00:00+0200") == base);
    CHECK(parse_iso8601_ms("2025-06-01 12:00:00.5") == base + 500);
    CHECK(parse_iso8601_ms("2025-06-01T12:00:00.029123456Z") == doctest::Approx(base + 29.123456));
    CHECK(parse_iso8601_ms("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_iso8601_ms("2024-02-29T00:00:00Z").has_value());
    CHECK(parse_iso8601_ms("9999-12-31T23:59:59.999Z") == kMaxTimestampMs - 1);
}

TEST_CASE("every zone-less form, in the given zone") {
    // 2025-06-01 12:00:00 in New York is 16:00:00Z (daylight time, -04:00).
    const double ny = 1748793600000.0;
    LocalTimeConverter local(zone("America/New_York"));
    for (const char* s : {"2025-06-01 12:00:00", "2025-06-01T12:00:00", "2025-06-01t12:00:00"})
        CHECK(parse_iso8601(s, &local).ms == ny);
    CHECK(parse_iso8601("2025-06-01 12:00:00.5", &local).ms == ny + 500);
    CHECK(parse_iso8601("2025-06-01 12:00:00.029", &local).ms == ny + 29);
    CHECK(parse_iso8601("2025-06-01T12:00:00,029", &local).ms == ny + 29);
    CHECK(parse_iso8601("2025-06-01 12:00:00.029123456789", &local).ms == doctest::Approx(ny + 29.123456789));
    // Winter: standard time, -05:00.
    CHECK(parse_iso8601("2025-01-15 12:00:00", &local).ms == *parse_iso8601_ms("2025-01-15T17:00:00Z"));
    // A zone or an offset in the text wins over the given zone.
    CHECK(parse_iso8601("2025-06-01 12:00:00Z", &local).ms == *parse_iso8601_ms("2025-06-01T12:00:00Z"));
    CHECK(parse_iso8601("2025-06-01 12:00:00+02:00", &local).ms == *parse_iso8601_ms("2025-06-01T10:00:00Z"));
    // No zone given: UTC.
    CHECK(parse_iso8601("2025-06-01 12:00:00", nullptr).ms == *parse_iso8601_ms("2025-06-01T12:00:00Z"));
    LocalTimeConverter kolkata(zone("Asia/Kolkata"));
    CHECK(parse_iso8601("2025-06-01 17:30:00", &kolkata).ms == *parse_iso8601_ms("2025-06-01T12:00:00Z"));
    LocalTimeConverter utc(zone("UTC"));
    CHECK(parse_iso8601("2025-06-01 12:00:00", &utc).ms == *parse_iso8601_ms("2025-06-01T12:00:00Z"));
}

TEST_CASE("daylight-saving changes: the repeated hour and the skipped one") {
    LocalTimeConverter local(zone("America/New_York"));
    // 2025-11-02: 01:00-02:00 happens twice, first at -04:00 then at -05:00.
    const ParsedTime first = parse_iso8601("2025-11-02 01:30:00", &local);
    CHECK(first.ms == *parse_iso8601_ms("2025-11-02T05:30:00Z"));
    CHECK(first.fold_ms == 3600000);
    // Nearest to the previous entry of the input.
    CHECK(resolve_fold(first.ms, first.fold_ms, 0) == first.ms);
    CHECK(resolve_fold(first.ms, first.fold_ms, *parse_iso8601_ms("2025-11-02T05:29:00Z")) == first.ms);
    CHECK(resolve_fold(first.ms, first.fold_ms, *parse_iso8601_ms("2025-11-02T06:01:00Z")) == first.ms + 3600000);
    CHECK(resolve_fold(first.ms, first.fold_ms, *parse_iso8601_ms("2025-11-02T06:31:00Z")) == first.ms + 3600000);
    // Either side of the repeated hour is unambiguous.
    CHECK(parse_iso8601("2025-11-02 00:59:59", &local).fold_ms == 0);
    CHECK(parse_iso8601("2025-11-02 02:00:00", &local).ms == *parse_iso8601_ms("2025-11-02T07:00:00Z"));
    // 2025-03-09: 02:00-03:00 does not exist; it takes the offset before the change.
    CHECK(parse_iso8601("2025-03-09 02:30:00", &local).ms == *parse_iso8601_ms("2025-03-09T07:30:00Z"));
    CHECK(parse_iso8601("2025-03-09 03:00:00", &local).ms == *parse_iso8601_ms("2025-03-09T07:00:00Z"));
    // Far from any transition the cached span answers, and agrees with the database.
    LocalTimeConverter fresh(zone("America/New_York"));
    for (const char* s : {"2025-07-04 09:00:00", "2025-07-05 09:00:00", "2025-11-02 01:30:00", "2025-07-06 09:00:00",
                          "2099-07-01 00:00:00", "1971-01-01 00:00:00"}) {
        LocalTimeConverter uncached(zone("America/New_York"));
        CHECK(parse_iso8601(s, &fresh).ms == parse_iso8601(s, &uncached).ms);
    }
}

TEST_CASE("time zone names") {
    std::string error;
    CHECK(TimeZone::locate("Nowhere/Invalid", error) == nullptr);
    CHECK(error.find("Nowhere/Invalid") != std::string::npos);
    CHECK(TimeZone::locate("UTC", error)->is_utc());
    CHECK(TimeZone::locate("Europe/Berlin", error)->name() == "Europe/Berlin");
    CHECK(TimeZone::locate("Local", error) != nullptr);
}

TEST_CASE("invalid timestamps, by reason") {
    CHECK(error_of("") == TimeError::Malformed);
    CHECK(error_of("yesterday") == TimeError::Malformed);
    CHECK(error_of("2025-13-01T12:00:00Z") == TimeError::Malformed);
    CHECK(error_of("2026-13-45T25:61:61Z") == TimeError::Malformed);
    CHECK(error_of("2025-02-29T12:00:00Z") == TimeError::Malformed);
    CHECK(error_of("2025-04-31T12:00:00Z") == TimeError::Malformed);
    CHECK(error_of("2025-06-01T12:00:00.Z") == TimeError::Malformed);
    CHECK(error_of("2025-06-01T12:00:00Zjunk") == TimeError::Malformed);
    CHECK(error_of("2025-06-01T25:00:00Z") == TimeError::Malformed);
    CHECK(error_of("2025-06-01T12:60:00Z") == TimeError::Malformed);
    CHECK(error_of("2025-06-01T12:00:61Z") == TimeError::Malformed);
    CHECK(error_of("2025-06-01T12:00:00+2") == TimeError::Malformed);
    CHECK(error_of("2025-06-01T12:00:00+99:99") == TimeError::Malformed);
    CHECK(error_of("2025-06-01T12:00:00+24:00") == TimeError::Malformed);
    CHECK(error_of("1969-12-31T23:59:59Z") == TimeError::OutOfRange);
    CHECK(error_of("0000-01-01T00:00:00Z") == TimeError::OutOfRange);
    CHECK(error_of("1970-01-01T00:00:00+00:01") == TimeError::OutOfRange);
    CHECK(error_of("9999-12-31T23:59:59-01:00") == TimeError::OutOfRange);
    CHECK_FALSE(parse_iso8601_ms("1969-12-31T23:59:59Z"));
}

TEST_CASE("epoch numbers by magnitude, and the invalid ones") {
    CHECK(epoch_time(1748779200).ms == 1748779200000.0);
    CHECK(epoch_time(1748779200.5).ms == 1748779200500.0);
    CHECK(epoch_time(1748779200123.0).ms == 1748779200123.0);
    CHECK(epoch_time(1748779200123456.0).ms == doctest::Approx(1748779200123.456));
    CHECK(epoch_time(1748779200123456789.0).ms == doctest::Approx(1748779200123.456789));
    CHECK(epoch_time(0).error == TimeError::None);
    for (double v : {1e300, -1e300, -1.0, 1e30, std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::max(), -std::numeric_limits<double>::max()})
        CHECK(epoch_time(v).error == TimeError::OutOfRange);
}
