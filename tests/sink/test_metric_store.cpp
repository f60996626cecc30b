#include <doctest/doctest.h>

#include <string>

#include "ailog/metric_store.hpp"

using namespace ailog;

TEST_CASE("label values are escaped and made valid UTF-8") {
    std::string out;
    append_escaped_label_value(out, "a\"b\\c\nd");
    CHECK(out == "a\\\"b\\\\c\\nd");
    out.clear();
    append_escaped_label_value(out, "ok \xC3\xA9 \xF0\x9F\x98\x80");
    CHECK(out == "ok \xC3\xA9 \xF0\x9F\x98\x80");
    out.clear();
    append_escaped_label_value(out, "bad \xff \xC3 \xED\xA0\x80 end");
    CHECK(out == "bad \xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST_CASE("text exposition of counters, gauges and histograms") {
    MetricStore store;
    const int c = store.add_family("requests_total", "Total requests", MetricType::Counter, {"status"});
    const int g = store.add_family("temperature", "Line one\nline two \\", MetricType::Gauge, {});
    const int h = store.add_family("duration_ms", "Duration", MetricType::Histogram, {"op"}, {10, 100.5});
    MetricStore::add(*store.get(c, {"ok"}), 3);
    MetricStore::add(*store.get(c, {"o\"k"}), 1);
    MetricStore::set(*store.get(g, std::span<const std::string_view>{}), -1.5);
    Series* s = store.get(h, {"x"});
    store.observe(h, *s, 10);
    store.observe(h, *s, 50.25);
    store.observe(h, *s, 1000);
    std::string out;
    store.render(out);
    CHECK(out ==
          "# HELP requests_total Total requests\n"
          "# TYPE requests_total counter\n"
          "requests_total{status=\"ok\"} 3\n"
          "requests_total{status=\"o\\\"k\"} 1\n"
          "# HELP temperature Line one\\nline two \\\\\n"
          "# TYPE temperature gauge\n"
          "temperature -1.5\n"
          "# HELP duration_ms Duration\n"
          "# TYPE duration_ms histogram\n"
          "duration_ms_bucket{op=\"x\",le=\"10\"} 1\n"
          "duration_ms_bucket{op=\"x\",le=\"100.5\"} 2\n"
          "duration_ms_bucket{op=\"x\",le=\"+Inf\"} 3\n"
          "duration_ms_sum{op=\"x\"} 1060.25\n"
          "duration_ms_count{op=\"x\"} 3\n");
}

TEST_CASE("the same label values give the same series; families without series are not rendered") {
    MetricStore store;
    const int c = store.add_family("a_total", "A", MetricType::Counter, {"x", "y"});
    store.add_family("unused_total", "U", MetricType::Counter, {});
    // "ab"+"c" and "a"+"bc" must not collide.
    Series* s1 = store.get(c, {"ab", "c"});
    Series* s2 = store.get(c, {"a", "bc"});
    CHECK(s1 != s2);
    CHECK(store.get(c, {"ab", "c"}) == s1);
    std::string out;
    store.render(out);
    CHECK(out.find("unused_total") == std::string::npos);
}

TEST_CASE("the series limit drops new series and counts what it drops") {
    MetricStore store(2);
    const int c = store.add_family("a_total", "A", MetricType::Counter, {"x"});
    const int self = store.add_family("self_total", "S", MetricType::Counter, {"x"}, {}, false);
    CHECK(store.get(c, {"1"}) != nullptr);
    CHECK(store.get(c, {"2"}) != nullptr);
    CHECK(store.get(c, {"3"}) == nullptr);
    CHECK(store.get(c, {"3"}) == nullptr);
    CHECK(store.get(c, {"1"}) != nullptr);
    CHECK(store.families()[static_cast<size_t>(c)]->dropped.load() == 2);
    CHECK(store.series_count() == 2);
    CHECK(store.get(self, {"unlimited"}) != nullptr);
}

TEST_CASE("integer values print exactly up to 2^53") {
    MetricStore store;
    const int c = store.add_family("big_total", "B", MetricType::Counter, {});
    Series* s = store.get(c, std::span<const std::string_view>{});
    MetricStore::add(*s, 9007199254740992.0);
    std::string out;
    store.render(out);
    CHECK(out.find("big_total 9007199254740992\n") != std::string::npos);
}
