#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "config/mapping_loader.hpp"
#include "pipeline_run.hpp"

using namespace ailog;

namespace {

// Model calls and HTTP requests from one log, each mapping with its own
// message key, time key and fields. A line with a level is also counted by
// the third, so one line can be an entry of two mappings.
const char* kTwo = R"(mappings:
  calls:
    message: message
    time: timestamp
    fields:
      capability: {path: capability}
    entries:
      call_done: {message: call done}
    metrics:
      - name: calls_total
        type: counter
        labels: [capability]
        updates:
          - entries: [call_done]
            labels: {capability: {field: capability}}
            value: 1
  http:
    message: msg
    time: time
    fields:
      method: {path: req.method}
    entries:
      request: {message: request completed}
    metrics:
      - name: http_requests_total
        type: counter
        labels: [method]
        updates:
          - entries: [request]
            labels: {method: {field: method}}
            value: 1
  levels:
    message: msg
    time: time
    fields:
      level: {path: level, type: level}
    entries:
      leveled:
        when:
          - {field: level, exists: true}
    metrics:
      - name: log_lines_total
        type: counter
        labels: [level]
        updates:
          - entries: [leveled]
            labels: {level: {field: level}}
            value: 1
)";

using Run = test::PipelineRun;

std::vector<std::string> problems_of(const std::string& yaml) {
    try {
        load_mappings(yaml, "t.yml");
        return {};
    } catch (const ConfigError& e) {
        return e.problems();
    }
}

}  // namespace

TEST_CASE("each mapping of a file reads every line: an entry of one, of another, of two, of none") {
    Run r(load_mappings(kTwo, "t.yml"));
    REQUIRE(r.mappings.size() == 3);
    CHECK(r.mappings[0].name == "calls");
    r.feed(R"({"message":"call done","capability":"chat","timestamp":"2025-06-01T12:00:00Z"})");
    r.feed(R"({"msg":"request completed","req":{"method":"GET"},"time":1748779200000,"level":30})");
    r.feed(R"({"msg":"request completed","req":{"method":"POST"},"time":1748779200001})");
    r.feed(R"({"msg":"something else","time":1748779200002})");
    const std::string text = r.text();
    CHECK(text.find("calls_total{capability=\"chat\"} 1\n") != std::string::npos);
    CHECK(text.find("http_requests_total{method=\"GET\"} 1\n") != std::string::npos);
    CHECK(text.find("http_requests_total{method=\"POST\"} 1\n") != std::string::npos);
    CHECK(text.find("log_lines_total{level=\"info\"} 1\n") != std::string::npos);
    // The entries by kind, and the one line no mapping took, skipped once.
    CHECK(text.find("ailog_exporter_entries_total{kind=\"call_done\"} 1\n") != std::string::npos);
    CHECK(text.find("ailog_exporter_entries_total{kind=\"request\"} 2\n") != std::string::npos);
    CHECK(text.find("ailog_exporter_entries_total{kind=\"leveled\"} 1\n") != std::string::npos);
    CHECK(text.find("ailog_exporter_lines_skipped_total{reason=\"not_matched\"} 1\n") != std::string::npos);
    CHECK(r.pipeline.stats().lines == 4);
}

TEST_CASE("metric and entry kind names are unique in a file of several mappings") {
    std::string yaml(kTwo);
    yaml.replace(yaml.find("name: http_requests_total"), 25, "name: calls_total");
    auto p = problems_of(yaml);
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("t.yml:25:15:") == 0);
    CHECK(p[0].find("metric calls_total is also defined by mapping calls") != std::string::npos);

    yaml = kTwo;
    yaml.replace(yaml.find("request: {message"), 8, "call_done:");
    yaml.replace(yaml.find("entries: [request]"), 18, "entries: [call_done]");
    p = problems_of(yaml);
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("t.yml:23:7:") == 0);
    CHECK(p[0].find("entry kind call_done is also one of mapping calls") != std::string::npos);

    CHECK(problems_of("mappings: {}\n").at(0).find("mappings is a map of mapping names to mappings") !=
          std::string::npos);
    p = problems_of("mappings: {a: {}}\nmetrics: []\n");
    CHECK(std::find(p.begin(), p.end(), "t.yml:2:1: unknown key metrics in a file of several mappings") != p.end());
}

TEST_CASE("names that are not text in a file of several mappings are problems, not a crash") {
    const char* kBad[] = {
        ("mappings:\n  a:\n    message: m\n    time: t\n    entries: {x: {message: x}}\n    metrics:\n"
         "      - {name: [a], type: counter}\n"),
        "mappings:\n  a:\n    message: m\n    time: t\n    entries: {[x]: {message: x}}\n",
        "mappings:\n  [a]:\n    message: m\n",
        "[a]: 1\nmappings: {a: {}}\n",
    };
    for (const char* yaml : kBad) {
        CAPTURE(yaml);
        const auto p = problems_of(yaml);
        REQUIRE_FALSE(p.empty());
        CHECK(p[0].find("t.yml:") == 0);
    }
}

TEST_CASE("a file of one mapping still loads as before, and load_mapping refuses several") {
    CHECK(load_mappings(builtin_mapping_yaml(), "b.yml") == Mappings{builtin_mapping()});
    CHECK_THROWS_AS(load_mapping(kTwo, "t.yml"), ConfigError);
}
