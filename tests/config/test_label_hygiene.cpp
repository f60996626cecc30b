#include <doctest/doctest.h>

#include <re2/re2.h>

#include <string>
#include <vector>

#include "ailog/clock.hpp"
#include "ailog/metric_store.hpp"
#include "config/mapping_loader.hpp"
#include "config/problems.hpp"
#include "derive/label_hygiene.hpp"
#include "pipeline/pipeline.hpp"
#include "test_util.hpp"

using namespace ailog;

namespace {

// HTTP lines whose URL carries ids and query strings, and a queue-depth
// gauge set, raised and lowered by entries.
const char* kMapping = R"(message: msg
time: time
fields:
  url: {path: req.url}
  tenant: {path: tenant}
  depth: {path: depth, type: number}
entries:
  done: {message: request completed, outcome: done}
  queued: {message: queued}
  dequeued: {message: dequeued}
  depth: {message: queue depth}
metrics:
  - name: http_requests_total
    type: counter
    labels: [route, tenant]
    updates:
      - entries: [done]
        labels:
          route:
            field: url
            replace:
              - {pattern: '\?.*$', with: ''}
              - {pattern: '/[0-9]+(/|$)', with: '/:id\1'}
              - {pattern: '/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', with: '/:uuid'}
          tenant: {field: tenant, max_values: 2, overflow: other_tenant}
        value: 1
  - name: queue_depth
    type: gauge
    labels: []
    updates:
      - {entries: [queued], value: 1, op: inc}
      - {entries: [dequeued], value: 1, op: dec}
      - {entries: [depth], value: {field: depth}, op: set}
)";

std::string exposition_after(const std::vector<std::string>& lines, bool self_metrics = false) {
    const Mapping m = load_mapping(kMapping, "t.yml");
    MetricStore store;
    SystemClock clock;
    Pipeline pipeline(m, store, clock, PipelineOptions{});
    const int source = pipeline.open_source("t");
    for (const auto& l : lines) {
        test::Padded p(l);
        pipeline.on_line(source, p.view(), p.capacity());
    }
    pipeline.publish();
    std::string text;
    store.render(text, self_metrics ? "" : "ailog_exporter_");
    return text;
}

std::string replaced(const char* pattern, const char* with, const char* in) {
    const re2::RE2 re(pattern);
    REQUIRE(re.ok());
    std::string out;
    replace_all(re, in, with, out);
    // The same as RE2's own GlobalReplace.
    std::string theirs = in;
    re2::RE2::GlobalReplace(&theirs, re, with);
    CHECK(out == theirs);
    return out;
}

}  // namespace

TEST_CASE("a label's value rewritten by patterns: ids to placeholders, the query string dropped") {
    const std::string text = exposition_after({
        R"({"msg":"request completed","req":{"url":"/users/123"},"tenant":"a"})",
        R"({"msg":"request completed","req":{"url":"/users/456?expand=1"},"tenant":"a"})",
        R"({"msg":"request completed","req":{"url":"/users/7/orders/99"},"tenant":"a"})",
        R"({"msg":"request completed","req":{"url":"/files/0b6f8a5e-3c8e-4f0e-9a53-2b1d8f0c7e11"},"tenant":"a"})",
        R"({"msg":"request completed","req":{"url":"/v2/health"},"tenant":"a"})",
    });
    CAPTURE(text);
    CHECK(text.find("http_requests_total{route=\"/users/:id\",tenant=\"a\"} 2\n") != std::string::npos);
    CHECK(text.find("http_requests_total{route=\"/users/:id/orders/:id\",tenant=\"a\"} 1\n") != std::string::npos);
    CHECK(text.find("http_requests_total{route=\"/files/:uuid\",tenant=\"a\"} 1\n") != std::string::npos);
    CHECK(text.find("http_requests_total{route=\"/v2/health\",tenant=\"a\"} 1\n") != std::string::npos);
}

TEST_CASE("a label's distinct values are bounded: later new values become the overflow value, counted") {
    const std::string text = exposition_after(
        {
            R"({"msg":"request completed","req":{"url":"/"},"tenant":"a"})",
            R"({"msg":"request completed","req":{"url":"/"},"tenant":"b"})",
            R"({"msg":"request completed","req":{"url":"/"},"tenant":"c"})",
            R"({"msg":"request completed","req":{"url":"/"},"tenant":"a"})",
            R"({"msg":"request completed","req":{"url":"/"},"tenant":"d"})",
            R"({"msg":"request completed","req":{"url":"/"},"tenant":"b"})",
        },
        true);
    CAPTURE(text);
    CHECK(text.find("http_requests_total{route=\"/\",tenant=\"a\"} 2\n") != std::string::npos);
    CHECK(text.find("http_requests_total{route=\"/\",tenant=\"b\"} 2\n") != std::string::npos);
    CHECK(text.find("http_requests_total{route=\"/\",tenant=\"other_tenant\"} 2\n") != std::string::npos);
    CHECK(text.find("tenant=\"c\"") == std::string::npos);
    CHECK(text.find("ailog_exporter_label_overflow_total{metric=\"http_requests_total\",label=\"tenant\"} 2\n") !=
          std::string::npos);
}

TEST_CASE("a gauge set to a field, raised and lowered by entries") {
    CHECK(exposition_after({
                               R"({"msg":"queued"})",
                               R"({"msg":"queued"})",
                               R"({"msg":"queued"})",
                               R"({"msg":"dequeued"})",
                           })
              .find("queue_depth 2\n") != std::string::npos);
    CHECK(exposition_after({
                               R"({"msg":"queued"})",
                               R"({"msg":"queue depth","depth":40})",
                               R"({"msg":"dequeued"})",
                           })
              .find("queue_depth 39\n") != std::string::npos);
}

TEST_CASE("replace_all: groups, empty matches, anchors, as RE2's GlobalReplace does") {
    CHECK(replaced("[0-9]+", "N", "a1b22c333") == "aNbNcN");
    CHECK(replaced("(\\w+)@(\\w+)", "\\2 at \\1", "me@host you@there") == "host at me there at you");
    CHECK(replaced("x*", "-", "abc") == "-a-b-c-");
    CHECK(replaced("^/", "", "/a/b") == "a/b");  // ^ is the value's start, not each match's
    CHECK(replaced("b", "\\\\", "abc") == "a\\c");
    CHECK(replaced("z", "y", "") == "");
}

TEST_CASE("the mistakes of rewrites, limits and gauge ops") {
    using test::first_problem;
    auto with = [](const char* from, const char* to) {
        std::string s = kMapping;
        const auto at = s.find(from);
        REQUIRE(at != std::string::npos);
        s.replace(at, std::strlen(from), to);
        return s;
    };
    CHECK(first_problem(with("'\\?.*$'", "'(['")).starts_with("t.yml:22:27: pattern: missing ]"));
    CHECK(first_problem(with("with: '/:id\\1'", "with: '/:id\\2'")) ==
          "t.yml:23:49: with: Rewrite schema requests 2 matches, but the regexp only has 1 parenthesized "
          "subexpressions.");
    CHECK(first_problem(with("max_values: 2", "max_values: 0")) ==
          "t.yml:25:47: max_values must be a whole number from 1 to 1000000");
    CHECK(first_problem(with("max_values: 2, overflow", "overflow")) ==
          "t.yml:25:45: overflow is the value past max_values: give max_values too");
    CHECK(first_problem(with("op: set", "op: reset")) == "t.yml:33:55: op must be inc, dec or set, not reset");
    CHECK(first_problem(with("        value: 1\n  - name: queue_depth",
                             "        value: 1\n        op: inc\n  - name: queue_depth")) ==
          "t.yml:27:13: only a gauge's update has an op (counters and histograms only add)");
}
