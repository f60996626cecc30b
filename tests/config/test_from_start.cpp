#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/mapping_loader.hpp"
#include "config/problems.hpp"
#include "pipeline_run.hpp"
#include "state/checkpoint.hpp"

using namespace ailog;

namespace {

// Fastify's request logging: the method and URL are only on the start
// entry, the status code (a number) and the duration only on the end.
const char* kMapping = R"(message: msg
time: {path: time, format: epoch_ms}
fields:
  reqId: {path: reqId}
  method: {path: req.method}
  url: {path: req.url}
  status: {path: res.statusCode, type: number}
  ms: {path: responseTime, type: number, non_negative: true}
entries:
  incoming: {message: incoming request, role: start}
  completed: {message: request completed}
metrics:
  - name: http_requests_total
    type: counter
    labels: [method, route, status_code]
    updates:
      - entries: [completed]
        labels:
          method: {field: method}
          route: {field: url, replace: [{pattern: '/[0-9]+', with: '/:id'}]}
          status_code: {field: status}
        value: 1
  - name: http_request_duration_seconds
    type: histogram
    labels: [method]
    buckets: [0.05, 0.1, 1]
    updates:
      - entries: [completed]
        labels: {method: {field: method, default: unknown}}
        value: {field: ms, factor: 0.001}
correlation:
  key: reqId
  from_start: [method, url]
)";

std::string incoming(const char* id, const char* method, const char* url, int t) {
    return "{\"msg\":\"incoming request\",\"reqId\":\"" + std::string(id) + "\",\"req\":{\"method\":\"" + method +
           "\",\"url\":\"" + url + "\"},\"time\":" + std::to_string(1717243200000 + t) + "}";
}

std::string completed(const char* id, int status, double ms, int t) {
    return "{\"msg\":\"request completed\",\"reqId\":\"" + std::string(id) +
           "\",\"res\":{\"statusCode\":" + std::to_string(status) + "},\"responseTime\":" + std::to_string(ms) +
           ",\"time\":" + std::to_string(1717243200000 + t) + "}";
}

// The mapping above, its clock a minute and a half past the first line.
struct Run : test::PipelineRun {
    Run() : PipelineRun(load_mappings(kMapping, "t.yml"), {}, 1717243300000.0) {}
    std::string text() const { return PipelineRun::text("ailog_exporter_"); }
};

}  // namespace

TEST_CASE("an end entry takes the start's method and URL; ids match within one input") {
    Run r;
    // Two processes, both numbering their requests from req-1.
    const int a = r.pipeline.open_source("a.log");
    const int b = r.pipeline.open_source("b.log");
    r.feed(a, {incoming("req-1", "GET", "/users/42", 0), incoming("req-2", "POST", "/users", 1)});
    r.feed(b, {incoming("req-1", "DELETE", "/users/7", 2)});
    r.feed(a, {completed("req-2", 201, 30, 10), completed("req-1", 200, 80.5, 11)});
    r.feed(b, {completed("req-1", 500, 2000, 12)});
    r.feed(a, {completed("req-9", 404, 1, 13)});  // no start: no method or URL
    const std::string text = r.text();
    CAPTURE(text);
    CHECK(text.find("http_requests_total{method=\"GET\",route=\"/users/:id\",status_code=\"200\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("http_requests_total{method=\"POST\",route=\"/users\",status_code=\"201\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("http_requests_total{method=\"DELETE\",route=\"/users/:id\",status_code=\"500\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("status_code=\"404\"") == std::string::npos);  // no labels: not counted here
    CHECK(text.find("http_request_duration_seconds_count{method=\"unknown\"} 1\n") != std::string::npos);
    CHECK(text.find("http_request_duration_seconds_bucket{method=\"GET\",le=\"0.1\"} 1\n") != std::string::npos);
    CHECK(text.find("http_request_duration_seconds_bucket{method=\"DELETE\",le=\"1\"} 0\n") != std::string::npos);
}

TEST_CASE("the start's values survive a restart through the state file") {
    State saved;
    {
        Run r;
        const int a = r.pipeline.open_source("a.log");
        r.feed(a, {incoming("req-1", "PUT", "/items/3", 0)});
        saved = capture_state(r.pipeline, r.store, r.pipeline.deriver().families(), {}, 1717243300000.0);
    }
    REQUIRE(saved.open_starts.size() == 1);
    Run r;
    check_state(saved, r.store, r.pipeline.deriver().families());
    restore_state(saved, r.pipeline, r.store, 1717243300000.0);
    const int a = r.pipeline.open_source("a.log");
    r.feed(a, {completed("req-1", 204, 5, 20)});
    const std::string text = r.text();
    CAPTURE(text);
    CHECK(text.find("http_requests_total{method=\"PUT\",route=\"/items/:id\",status_code=\"204\"} 1\n") !=
          std::string::npos);
}

TEST_CASE("from_start's mistakes") {
    using test::first_problem;
    std::string bad = kMapping;
    bad.replace(bad.find("from_start: [method, url]"), 25, "from_start: [method, ms]");
    CHECK(first_problem(bad) == "t.yml:33:24: field ms is a number; a string is needed here");
    bad = kMapping;
    bad.replace(bad.find("from_start: [method, url]"), 25, "from_start: [method, method]");
    CHECK(first_problem(bad) == "t.yml:33:24: field method is listed twice");
    bad = kMapping;
    bad.replace(bad.find("from_start: [method, url]"), 25, "from_start: method");
    CHECK(first_problem(bad) == "t.yml:33:15: from_start must be a list of fields");
}
