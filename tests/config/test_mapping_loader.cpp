#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/mapping_loader.hpp"
#include "config/problems.hpp"

using namespace ailog;

namespace {

enum Field : int {
    kMessage,
    kTime,
    kRequestId,
    kCapability,
    kOperation,
    kDuration,
    kTokensIn,
    kTokensOut,
    kStatusCode,
};

enum Kind : int { kStart, kSucceeded, kFailed };

LabelSource field_label(int f) {
    return {LabelSource::Kind::Field, f, {}, false, {}, 0, {}};
}
LabelSource const_label(std::string v) {
    return {LabelSource::Kind::Constant, -1, std::move(v), false, {}, 0, {}};
}
LabelSource outcome_label() {
    return {LabelSource::Kind::Outcome, -1, {}, false, {}, 0, {}};
}

// The executeParse mapping as it was compiled in before it became a file:
// an independent statement of what examples/executeparse.yml must load as.
Mapping expected_executeparse() {
    Mapping m;
    const uint32_t ends = kind_bit(kSucceeded) | kind_bit(kFailed);
    const uint32_t all = kind_bit(kStart) | ends;

    m.fields = {
        {"message", FieldType::String, {{"message"}, {"msg"}}, 0, false, TimeFormat::Auto, {}},
        {"time", FieldType::Timestamp, {{"timestamp"}, {"time"}}, 0, false, TimeFormat::Auto, {}},
        {"requestId", FieldType::String, {{"requestId"}}, 0, false, TimeFormat::Auto, {}},
        {"capability", FieldType::String, {{"capability"}}, all, false, TimeFormat::Auto, {}},
        {"operation", FieldType::String, {{"operation"}}, all, false, TimeFormat::Auto, {}},
        {"durationMs", FieldType::Number, {{"result", "durationMs"}}, 0, true, TimeFormat::Auto, {}},
        {"tokens.input", FieldType::Number, {{"result", "usage", "tokens", "input"}}, 0, true, TimeFormat::Auto, {}},
        {"tokens.output", FieldType::Number, {{"result", "usage", "tokens", "output"}}, 0, true, TimeFormat::Auto, {}},
        {"openaiErrorStatusCode", FieldType::Number, {{"openaiErrorStatusCode"}}, 0, false, TimeFormat::Auto, {}},
    };
    m.message_field = kMessage;
    m.time_field = kTime;

    m.kinds = {
        {"start", "executeParse - start", EntryRole::Start, "", {}},
        {"succeeded", "executeParse - succeeded", EntryRole::End, "success", {}},
        {"failed", "executeParse - failed", EntryRole::End, "failure", {}},
    };

    m.classifiers = {{
        kStatusCode,
        {
            {429, 429, "RATE_LIMITED"},
            {401, 401, "UNAUTHORIZED"},
            {403, 403, "UNAUTHORIZED"},
            {400, 400, "BAD_REQUEST"},
            {404, 404, "BAD_REQUEST"},
            {422, 422, "BAD_REQUEST"},
            {502, 504, "PROVIDER_UNAVAILABLE"},
            {500, 599, "PROVIDER_ERROR"},
        },
        "OTHER",
        "INTERNAL",
        {},
    }};

    const auto cap = field_label(kCapability);
    const auto op = field_label(kOperation);

    m.metrics = {
        {"openai_api_requests_total",
         "Total number of OpenAI API requests",
         MetricType::Counter,
         {"capability", "operation", "status"},
         {},
         {{ends, {cap, op, outcome_label()}, {ValueSource::Kind::One, -1, 1}}}},
        {"openai_api_request_duration_ms",
         "Duration of OpenAI API requests in milliseconds",
         MetricType::Histogram,
         {"capability", "operation", "status"},
         {10, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
         {{ends, {cap, op, outcome_label()}, {ValueSource::Kind::FieldOrCorrelated, kDuration, 1}}}},
        {"openai_api_tokens_total",
         "Total tokens used in OpenAI API requests",
         MetricType::Counter,
         {"capability", "operation", "type"},
         {},
         {{kind_bit(kSucceeded), {cap, op, const_label("input")}, {ValueSource::Kind::Field, kTokensIn, 1}},
          {kind_bit(kSucceeded), {cap, op, const_label("output")}, {ValueSource::Kind::Field, kTokensOut, 1}}}},
        {"openai_api_request_errors_total",
         "Failed OpenAI API requests by cause",
         MetricType::Counter,
         {"capability", "operation", "error_type"},
         {},
         {{kind_bit(kFailed),
           {cap, op, {LabelSource::Kind::Classified, 0, {}, false, {}, 0, {}}},
           {ValueSource::Kind::One, -1, 1}}}},
        {"openai_api_requests_in_flight",
         "Requests whose start entry was read and whose end entry was not yet",
         MetricType::Gauge,
         {"capability", "operation"},
         {},
         {}},
    };
    m.correlation = {kRequestId, 4, {cap, op}, {}, {}, {}};
    m.exemplars = {kRequestId, "request_id"};
    m.summary = {"openai_api_requests_total",
                 "status",
                 "success",
                 "openai_api_request_duration_ms",
                 "ms",
                 "openai_api_tokens_total",
                 "type",
                 "input",
                 "output",
                 "",
                 ""};
    return m;
}

using test::problems_of;

const char* kMinimal = R"(message: msg
entries:
  begin: {message: job started, role: start}
  done: {message: job done, outcome: ok}
fields:
  id: {path: job.id, type: string}
metrics:
  - name: jobs_total
    type: counter
    labels: [result]
    updates:
      - entries: [done]
        labels: {result: outcome}
        value: 1
)";

}  // namespace

TEST_CASE("examples/executeparse.yml loads as the executeParse mapping, field by field") {
    const Mapping loaded = builtin_mapping();
    const Mapping expected = expected_executeparse();
    // One by one first, so that a difference names its field or metric.
    auto each_equal = [](const auto& got, const auto& want) {
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < want.size(); ++i) {
            CAPTURE(want[i].name);
            CHECK(got[i] == want[i]);
        }
    };
    each_equal(loaded.fields, expected.fields);
    each_equal(loaded.kinds, expected.kinds);
    each_equal(loaded.metrics, expected.metrics);
    CHECK(loaded.classifiers == expected.classifiers);
    CHECK(loaded.correlation == expected.correlation);
    CHECK(loaded.summary == expected.summary);
    CHECK(loaded == expected);
    CHECK(loaded.message_field == expected.message_field);
    CHECK(loaded.time_field == expected.time_field);
}

TEST_CASE("a minimal mapping: nested paths, a start without correlation, an outcome label") {
    const Mapping m = load_mapping(kMinimal, "t.yml");
    REQUIRE(m.fields.size() == 2);
    CHECK(m.fields[0].paths == std::vector<std::vector<std::string>>{{"msg"}});
    CHECK(m.time_field == -1);
    CHECK(m.fields[1].paths == std::vector<std::vector<std::string>>{{"job", "id"}});
    REQUIRE(m.kinds.size() == 2);
    CHECK(m.kinds[0].role == EntryRole::Start);
    CHECK(m.kinds[1].role == EntryRole::End);
    CHECK(m.kinds[1].outcome == "ok");
    REQUIRE(m.metrics.size() == 1);
    CHECK(m.metrics[0].rules[0].entries == kind_bit(1));
    CHECK(m.metrics[0].rules[0].labels[0].kind == LabelSource::Kind::Outcome);
    CHECK(m.correlation.key_field == -1);
}

TEST_CASE("every mistake is reported with its line and column, naming the key") {
    struct Case {
        std::string yaml;
        std::string expected;  // the first problem
    };
    const std::vector<Case> cases{
        {"message: [a\n", "t.yml:2:1: "},  // YAML syntax
        {"mesage: msg\n", "t.yml:1:1: unknown key mesage in the mapping (did you mean message?)"},
        {std::string(kMinimal) + "colour: red\n", "t.yml:15:1: unknown key colour in the mapping"},
        {"message: msg\nentries: [a, b]\n", "t.yml:2:10: a map of entry names is needed here"},
        {"message: msg\nentries:\n  a: {mesage: x}\n",
         "t.yml:3:7: unknown key mesage in entry a (did you mean message?)"},
        {"message: msg\nentries:\n  a: {message: x, role: begin}\n",
         "t.yml:3:25: role must be start or end, not begin"},
        {"message: msg\nentries:\n  a: {message: x}\nfields:\n  n: {path: n, type: int}\n",
         "t.yml:5:22: type must be string, number, timestamp or level, not int"},
        {"message: msg\nentries:\n  a: {message: x}\nmetrics:\n  - {name: 9lives_total, type: counter}\n",
         "t.yml:5:12: 9lives_total is not a valid metric name"},
        {"message: msg\nentries:\n  a: {message: x}\nmetrics:\n  - {name: jobs, type: counter}\n",
         "t.yml:5:12: counter jobs must end in _total"},
        {"message: msg\nentries:\n  a: {message: x}\nmetrics:\n  - {name: d, type: histogram, buckets: [1, 5, 5]}\n",
         "t.yml:5:48: buckets must be strictly increasing"},
        {"message: msg\nentries:\n  a: {message: x}\nmetrics:\n  - {name: g, type: gauge, labels: [__x]}\n",
         "t.yml:5:37: label names starting with __ are reserved: __x"},
        {"message: msg\nentries:\n  a: {message: x}\nmetrics:\n  - {name: a_total, type: counter}\n  - {name: a_total, "
         "type: counter}\n",
         "t.yml:6:12: metric a_total is declared twice"},
        {"message: msg\nentries:\n  a: {message: x}\nmetrics:\n  - name: a_total\n    type: counter\n    labels: [x]\n"
         "    updates:\n      - {entries: [a], labels: {x: {field: nope}}, value: 1}\n",
         "t.yml:9:44: no field named nope (declare it under fields)"},
        {"message: msg\nentries:\n  a: {message: x}\nmetrics:\n  - name: a_total\n    type: counter\n    labels: [x, "
         "y]\n"
         "    updates:\n      - {entries: [b], labels: {x: outcome}, value: 1}\n",
         "t.yml:9:20: no entry kind named b"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.yaml);
        const auto p = problems_of(c.yaml);
        REQUIRE_FALSE(p.empty());
        CHECK_MESSAGE(p.front().starts_with(c.expected), p.front());
    }
    // Each mistake is found, not only the first.
    const auto several = problems_of(
        "message: msg\nentries:\n  a: {message: x}\nmetrics:\n  - name: a_total\n    type: counter\n    labels: [x, "
        "y]\n"
        "    updates:\n      - {entries: [b], labels: {x: outcome}, value: 1}\n");
    CHECK(several.size() == 2);
    CHECK(several.back().find("gives no value for label y") != std::string::npos);
}

TEST_CASE("a file that cannot be read is a config error naming it") {
    CHECK_THROWS_WITH_AS(load_mapping_file("/nonexistent/ailog.yml"), doctest::Contains("/nonexistent/ailog.yml"),
                         ConfigError);
}
