#include <doctest/doctest.h>

#include "common/duration.hpp"

using ailog::parse_duration_ms;

TEST_CASE("Prometheus durations") {
    CHECK(parse_duration_ms("500ms") == 500);
    CHECK(parse_duration_ms("15s") == 15000);
    CHECK(parse_duration_ms("10m") == 600000);
    CHECK(parse_duration_ms("1h30m") == 5400000);
    CHECK(parse_duration_ms("1s500ms") == 1500);
    CHECK(parse_duration_ms("7d") == 7 * 86400e3);
    CHECK(parse_duration_ms("0") == 0);
}

TEST_CASE("not durations") {
    CHECK_FALSE(parse_duration_ms(""));
    CHECK_FALSE(parse_duration_ms("10"));
    CHECK_FALSE(parse_duration_ms("m"));
    CHECK_FALSE(parse_duration_ms("1x"));
    CHECK_FALSE(parse_duration_ms("30m1h"));
    CHECK_FALSE(parse_duration_ms("-5s"));
    CHECK_FALSE(parse_duration_ms("1.5s"));
}
