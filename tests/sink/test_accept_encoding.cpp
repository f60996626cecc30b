#include <doctest/doctest.h>

#include "sink/endpoints.hpp"

using ailog::accepts_gzip;

TEST_CASE("Accept-Encoding: gzip unless its quality is 0") {
    CHECK(accepts_gzip("gzip"));
    CHECK(accepts_gzip("gzip, deflate, br"));
    CHECK(accepts_gzip("deflate,GZip"));
    CHECK(accepts_gzip("gzip;q=0.5"));
    CHECK(accepts_gzip("gzip; q=0.001"));
    CHECK(accepts_gzip("x-gzip"));
    CHECK(accepts_gzip("*"));
    CHECK(accepts_gzip("identity;q=1, *;q=0.1"));
    CHECK_FALSE(accepts_gzip(""));
    CHECK_FALSE(accepts_gzip("identity"));
    CHECK_FALSE(accepts_gzip("deflate, br"));
    CHECK_FALSE(accepts_gzip("gzip;q=0"));
    CHECK_FALSE(accepts_gzip("gzip;q=0.0"));
    CHECK_FALSE(accepts_gzip("gzip ; q=0.000, deflate"));
    CHECK_FALSE(accepts_gzip("*;q=0"));
    CHECK_FALSE(accepts_gzip("gzip;q=0, *"));  // gzip's own entry wins
    CHECK(accepts_gzip("*;q=0, gzip"));
    CHECK_FALSE(accepts_gzip("gzipped"));
}
