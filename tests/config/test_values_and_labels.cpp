#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ailog/clock.hpp"
#include "ailog/metric_store.hpp"
#include "config/mapping_loader.hpp"
#include "config/problems.hpp"
#include "pipeline/pipeline.hpp"
#include "test_util.hpp"

using namespace ailog;

namespace {

// HTTP request lines: a method worth a value map, a route that may be missing,
// a duration in ms counted in seconds.
const char* kMapping = R"(message: msg
time: time
fields:
  method: {path: req.method}
  route: {path: req.route}
  ms: {path: responseTime, type: number, non_negative: true}
entries:
  done: {message: request completed, outcome: done}
classifiers:
  method_class:
    field: method
    map: {GET: read, HEAD: read, POST: write, PUT: write}
    otherwise: other
    missing: none
metrics:
  - name: http_requests_total
    type: counter
    labels: [kind, route]
    updates:
      - entries: [done]
        labels: {kind: {classifier: method_class}, route: {field: route, default: unknown}}
        value: 1
  - name: http_request_seconds_sum_total
    type: counter
    labels: []
    updates:
      - entries: [done]
        value: {field: ms, factor: 0.001}
)";

std::string exposition_after(const std::vector<std::string>& lines) {
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
    store.render(text, "ailog_exporter_");
    return text;
}

}  // namespace

TEST_CASE("a value map, a label's default when its field is missing, and a value times a factor") {
    const std::string text = exposition_after({
        R"({"msg":"request completed","req":{"method":"GET","route":"/users"},"responseTime":250})",
        R"({"msg":"request completed","req":{"method":"HEAD","route":"/users"},"responseTime":1000})",
        R"({"msg":"request completed","req":{"method":"POST"},"responseTime":1500})",
        R"({"msg":"request completed","req":{"method":"DELETE","route":"/users"}})",
        R"({"msg":"request completed","req":{},"responseTime":5})",
    });
    CAPTURE(text);
    CHECK(text.find("http_requests_total{kind=\"read\",route=\"/users\"} 2\n") != std::string::npos);
    CHECK(text.find("http_requests_total{kind=\"write\",route=\"unknown\"} 1\n") != std::string::npos);
    CHECK(text.find("http_requests_total{kind=\"other\",route=\"/users\"} 1\n") != std::string::npos);
    CHECK(text.find("http_requests_total{kind=\"none\",route=\"unknown\"} 1\n") != std::string::npos);
    // 250 + 1000 + 1500 + 5 ms; the line without responseTime adds nothing.
    CHECK(text.find("http_request_seconds_sum_total 2.755\n") != std::string::npos);
}

TEST_CASE("the mistakes of maps, defaults and factors") {
    using test::first_problem;
    std::string bad = kMapping;
    bad.replace(bad.find("factor: 0.001"), 13, "factor: -1");
    CHECK(first_problem(bad) == "t.yml:28:36: factor must be above 0");
    bad = kMapping;
    bad.replace(bad.find("field: method\n"), 13, "field: ms");
    CHECK(first_problem(bad) == "t.yml:11:12: field ms is a number; a string is needed here");
    bad = kMapping;
    bad.replace(bad.find("{field: route, default: unknown}"), 32, "{constant: x, default: unknown}");
    CHECK(first_problem(bad).starts_with("t.yml:21:59: a label's value is exactly one of field"));
}
