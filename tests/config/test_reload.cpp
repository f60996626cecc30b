#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "config/mapping_loader.hpp"
#include "config/problems.hpp"
#include "pipeline_run.hpp"

using namespace ailog;

namespace {

using Run = test::PipelineRun;

std::string start(const char* id, const char* ts) {
    return std::string(R"({"message":"executeParse - start","requestId":")") + id +
           R"(","capability":"chat","operation":"core","timestamp":")" + ts + R"("})";
}

std::string failed(const char* id, const char* ts) {
    return std::string(R"({"message":"executeParse - failed","requestId":")") + id +
           R"(","capability":"chat","operation":"core","openaiErrorStatusCode":429,"timestamp":")" + ts + R"("})";
}

// The built-in mapping without its errors metric.
std::string without_errors() {
    std::string yaml(builtin_mapping_yaml());
    const auto a = yaml.find("  - name: openai_api_request_errors_total");
    const auto b = yaml.find("  - name: openai_api_requests_in_flight");
    return yaml.erase(a, b - a);
}

}  // namespace

TEST_CASE("a reload keeps open calls with their times, counts and unchanged series; removed metrics go") {
    const Mapping builtin = builtin_mapping();
    Run r(Mappings{builtin});
    r.feed(start("a", "2025-06-01T12:00:00.000Z"));
    r.feed(failed("x", "2025-06-01T12:00:00.500Z"));  // no start: unmatched
    CHECK(r.text().find("openai_api_requests_in_flight{capability=\"chat\",operation=\"core\"} 1\n") !=
          std::string::npos);
    CHECK(r.text().find("openai_api_request_errors_total{") != std::string::npos);

    r.pipeline.reload(std::make_shared<const Mappings>(load_mappings(without_errors(), "t.yml")));
    r.feed(failed("a", "2025-06-01T12:00:01.500Z"));
    const std::string text = r.text();
    CAPTURE(text);
    // The start read before the reload gives the failure its duration: 1.5 s.
    CHECK(text.find("openai_api_request_duration_ms_sum{capability=\"chat\",operation=\"core\",status=\"failure\"} "
                    "1500\n") != std::string::npos);
    CHECK(text.find("openai_api_requests_in_flight{capability=\"chat\",operation=\"core\"} 0\n") != std::string::npos);
    CHECK(text.find("openai_api_requests_total{capability=\"chat\",operation=\"core\",status=\"failure\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("openai_api_request_errors_total") == std::string::npos);
    CHECK(text.find("ailog_exporter_series_dropped_total{metric=\"openai_api_request_errors_total\"}") ==
          std::string::npos);
    CHECK(text.find("ailog_exporter_unmatched_entries_total{kind=\"failed\"} 1\n") != std::string::npos);
    CHECK(text.find("ailog_exporter_entries_total{kind=\"failed\"} 2\n") != std::string::npos);
}

TEST_CASE("a label bound counts every update of the metric and the values its series already have") {
    const char* yaml = R"(message: msg
fields:
  a: {path: a}
  b: {path: b}
entries:
  x: {message: x}
  y: {message: y}
metrics:
  - name: t_total
    type: counter
    labels: [v]
    updates:
      - {entries: [x], labels: {v: {field: a, max_values: 2}}, value: 1}
      - {entries: [y], labels: {v: {field: b}}, value: 1}
)";
    const Mapping m = load_mapping(yaml, "t.yml");
    Run r(Mappings{m});
    r.feed(R"({"msg":"x","a":"one"})");
    r.feed(R"({"msg":"y","b":"two"})");
    r.feed(R"({"msg":"y","b":"three"})");  // the third value, from the rule without the limit
    CHECK(r.text().find("t_total{v=\"other\"} 1\n") != std::string::npos);
    // Reloaded: the two values the series hold fill the bound at once.
    r.pipeline.reload(std::make_shared<const Mappings>(load_mappings(yaml, "t.yml")));
    r.feed(R"({"msg":"x","a":"four"})");
    r.feed(R"({"msg":"x","a":"one"})");
    const std::string text = r.text();
    CAPTURE(text);
    CHECK(text.find("t_total{v=\"other\"} 2\n") != std::string::npos);
    CHECK(text.find("t_total{v=\"one\"} 2\n") != std::string::npos);
    CHECK(text.find("ailog_exporter_label_overflow_total{metric=\"t_total\",label=\"v\"} 2\n") != std::string::npos);
}

TEST_CASE("with no room for open starts, a start leaves the in-flight gauge as it was") {
    PipelineOptions options;
    options.correlation.max_entries = 0;
    const Mapping builtin = builtin_mapping();
    Run r(Mappings{builtin}, options);
    r.feed(start("a", "2025-06-01T12:00:00.000Z"));
    const std::string text = r.text();
    CHECK(text.find("openai_api_requests_in_flight{capability=\"chat\",operation=\"core\"} 0\n") != std::string::npos);
    CHECK(text.find("ailog_exporter_correlation_evicted_total{reason=\"capacity\"} 1\n") != std::string::npos);
}

TEST_CASE("names of the exporter's own are refused, and a YAML shape the reader does not expect is a mistake") {
    using test::first_problem;
    const std::string head = "message: msg\nentries:\n  a: {message: a}\nmetrics:\n";
    CHECK(first_problem(head + "  - {name: process_open_fds, type: gauge}\n") ==
          "t.yml:5:12: process_open_fds: names starting with ailog_exporter_ or process_ are the exporter's own");
    CHECK(first_problem(head + "  - {name: ailog_exporter_x_total, type: counter}\n")
              .starts_with("t.yml:5:12: ailog_exporter_x_total: names starting"));
    CHECK_FALSE(first_problem("message: msg\nentries:\n  {[a]: 1}: {message: a}\n").empty());
    CHECK_FALSE(first_problem("message: msg\nentries: {a: {message: a}}\nfields: {[x]: {path: y}}\n").empty());
}

TEST_CASE("the mapping may bound its open starts; the flags are the default it overrides") {
    std::string yaml(builtin_mapping_yaml());
    const std::string key = "correlation:\n  key: requestId\n";
    yaml.replace(yaml.find(key), key.size(), key + "  max_entries: 1\n  max_age: 2s\n");
    const Mapping m = load_mapping(yaml, "t.yml");
    REQUIRE(m.correlation.max_entries == 1u);
    REQUIRE(m.correlation.max_age_ms == 2000.0);
    PipelineOptions options;  // the flags' defaults: 100000 entries, 10 minutes
    options.live = false;
    const auto limits = correlation_limits(options.correlation, m);
    CHECK(limits.max_entries == 1u);
    CHECK(limits.max_age_ms == 2000.0);
    CHECK(correlation_limits(options.correlation, builtin_mapping()).max_entries == 100000u);
    Run r(Mappings{m}, options);
    r.feed(start("a", "2025-06-01T12:00:00.000Z"));
    r.feed(failed("x", "2025-06-01T12:00:02.500Z"));
    r.feed(failed("y", "2025-06-01T12:00:02.600Z"));  // the input's clock passes 2.5 s: a is too old
    r.feed(start("b", "2025-06-01T12:00:02.700Z"));
    r.feed(start("c", "2025-06-01T12:00:02.800Z"));  // pushes b out: room for one
    const std::string text = r.text();
    CAPTURE(text);
    CHECK(text.find("ailog_exporter_correlation_evicted_total{reason=\"capacity\"} 1\n") != std::string::npos);
    CHECK(text.find("ailog_exporter_correlation_evicted_total{reason=\"age\"} 1\n") != std::string::npos);

    using test::first_problem;
    std::string bad = yaml;
    bad.replace(bad.find("max_age: 2s"), 11, "max_age: 2x");
    CHECK(first_problem(bad).ends_with("max_age must be a duration such as 10m or 1h30m, not 2x"));
    bad = yaml;
    bad.replace(bad.find("max_entries: 1"), 14, "max_entries: -1");
    CHECK(first_problem(bad).ends_with("max_entries must be a whole number from 0 to 100000000"));
}
