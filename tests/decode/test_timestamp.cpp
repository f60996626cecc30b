#include <doctest/doctest.h>

#include "decode/timestamp.hpp"

using ailog::epoch_to_ms;
using ailog::parse_iso8601_ms;

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
}

TEST_CASE("malformed timestamps are rejected") {
    CHECK_FALSE(parse_iso8601_ms(""));
    CHECK_FALSE(parse_iso8601_ms("yesterday"));
    CHECK_FALSE(parse_iso8601_ms("2025-13-01T12:00:00Z"));
    CHECK_FALSE(parse_iso8601_ms("2025-02-29T12:00:00Z"));
    CHECK_FALSE(parse_iso8601_ms("2025-06-01T12:00:00.Z"));
    CHECK_FALSE(parse_iso8601_ms("2025-06-01T12:00:00Zjunk"));
    CHECK_FALSE(parse_iso8601_ms("2025-06-01T25:00:00Z"));
    CHECK_FALSE(parse_iso8601_ms("2025-06-01T12:00:00+2"));
}

TEST_CASE("epoch numbers by magnitude") {
    CHECK(epoch_to_ms(1748779200) == 1748779200000.0);
    CHECK(epoch_to_ms(1748779200.5) == 1748779200500.0);
    CHECK(epoch_to_ms(1748779200123.0) == 1748779200123.0);
    CHECK(epoch_to_ms(1748779200123456.0) == doctest::Approx(1748779200123.456));
    CHECK(epoch_to_ms(1748779200123456789.0) == doctest::Approx(1748779200123.456789));
}
