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

TEST_CASE("Accept: OpenMetrics when it ranks above text 0.0.4, else text") {
    using ailog::Exposition;
    using ailog::negotiate_exposition;
    // What Prometheus 2.x sends.
    CHECK(negotiate_exposition("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                               "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
          Exposition::OpenMetrics);
    CHECK(negotiate_exposition("application/openmetrics-text") == Exposition::OpenMetrics);
    CHECK(negotiate_exposition("Application/OpenMetrics-Text; version=\"0.0.1\"") == Exposition::OpenMetrics);
    CHECK(negotiate_exposition("text/plain;q=0.5, application/openmetrics-text;q=0.9") == Exposition::OpenMetrics);
    CHECK(negotiate_exposition("application/openmetrics-text, text/plain") == Exposition::OpenMetrics);
    // Text: nothing asked, text first or ranked higher, a version we do not speak, or a quality of 0.
    CHECK(negotiate_exposition("") == Exposition::Text);
    CHECK(negotiate_exposition("*/*") == Exposition::Text);
    CHECK(negotiate_exposition("text/plain, application/openmetrics-text") == Exposition::Text);
    CHECK(negotiate_exposition("application/openmetrics-text;q=0.4,text/plain;version=0.0.4;q=0.5") ==
          Exposition::Text);
    CHECK(negotiate_exposition("application/openmetrics-text;version=2.0.0") == Exposition::Text);
    CHECK(negotiate_exposition("application/openmetrics-text;q=0") == Exposition::Text);
    CHECK(negotiate_exposition("application/openmetrics-text;q=abc") == Exposition::Text);
    CHECK(negotiate_exposition("application/json") == Exposition::Text);
    CHECK(negotiate_exposition(",;,;=;q=") == Exposition::Text);
}
