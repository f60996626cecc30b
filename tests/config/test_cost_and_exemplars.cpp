// Prices and cost values, a label's default by classifier, and exemplars,
// through the pipeline.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "config/mapping_loader.hpp"
#include "config/pipeline_run.hpp"
#include "config/problems.hpp"

using namespace ailog;

namespace {

const char* kMapping = R"(message: msg
time: time
fields:
  id: {path: id}
  capability: {path: capability}
  model: {path: model}
  in: {path: usage.in, type: number, non_negative: true}
  cached: {path: usage.cached, type: number, non_negative: true}
  out: {path: usage.out, type: number, non_negative: true}
  ms: {path: ms, type: number, non_negative: true}
entries:
  done: {message: done}
classifiers:
  default_model:
    field: capability
    map: {chat: gpt-4o, tags: gpt-4o-mini}
    otherwise: unlisted-model
    missing: gpt-4o-mini
prices:
  gpt-4o: {input: 2.50, cached_input: 1.25, output: 10}
  gpt-4o-mini: {input: 0.15, output: 0.60}
  gpt-4o-mini-tts: {input: 0.60, output: 12}
metrics:
  - name: cost_usd_total
    type: counter
    labels: [model]
    updates:
      - entries: [done]
        labels: {model: {field: model, default: {classifier: default_model}}}
        value: {cost: {input: in, cached_input: cached, output: out}}
  - name: calls_total
    type: counter
    labels: [model]
    updates:
      - entries: [done]
        labels: {model: {field: model, default: {classifier: default_model}}}
        value: 1
  - name: duration_ms
    type: histogram
    labels: []
    buckets: [10, 100]
    updates:
      - entries: [done]
        value: {field: ms}
exemplars:
  field: id
)";

double sample(const std::string& text, const std::string& series) {
    const size_t at = text.find(series + " ");
    if (at == std::string::npos) return std::nan("");
    return std::stod(text.substr(at + series.size() + 1));
}

}  // namespace

TEST_CASE("a cost is tokens times the price of the model a label names, cached input at its own price") {
    test::PipelineRun run({load_mapping(kMapping, "t.yml")});
    // gpt-4o logged: 1000 input of which 400 cached, 200 output.
    run.feed(
        R"({"msg":"done","time":1748779200000,"id":"a","model":"gpt-4o","usage":{"in":1000,"cached":400,"out":200}})");
    // No model: chat's default, gpt-4o; no cached count.
    run.feed(R"({"msg":"done","time":1748779201000,"id":"b","capability":"chat","usage":{"in":100,"out":10}})");
    // gpt-4o-mini has no cached price: the input price; more cached than input is input.
    run.feed(
        R"({"msg":"done","time":1748779202000,"id":"c","capability":"tags","usage":{"in":50,"cached":80,"out":5}})");
    // A dated snapshot takes its model's price; the longest name wins.
    run.feed(R"({"msg":"done","time":1748779203000,"id":"d","model":"gpt-4o-2024-08-06","usage":{"out":1000}})");
    run.feed(R"({"msg":"done","time":1748779204000,"id":"e","model":"gpt-4o-mini-tts-2025-03-20","usage":{"in":10}})");
    // Cached tokens without an input count: priced as cached, never below 0.
    run.feed(R"({"msg":"done","time":1748779204500,"id":"g","model":"gpt-4o-2024-11-20","usage":{"cached":1000}})");
    // No usage: counted, not priced.
    run.feed(R"({"msg":"done","time":1748779205000,"id":"f","model":"gpt-4o"})");
    const std::string text = run.text();
    CAPTURE(text);
    const double gpt4o = (600 * 2.5 + 400 * 1.25 + 200 * 10) / 1e6 + (100 * 2.5 + 10 * 10) / 1e6;
    CHECK(sample(text, "cost_usd_total{model=\"gpt-4o\"}") == doctest::Approx(gpt4o).epsilon(1e-12));
    CHECK(sample(text, "cost_usd_total{model=\"gpt-4o-mini\"}") ==
          doctest::Approx((50 * 0.15 + 5 * 0.60) / 1e6).epsilon(1e-12));
    CHECK(sample(text, "cost_usd_total{model=\"gpt-4o-2024-08-06\"}") == doctest::Approx(1000 * 10 / 1e6));
    CHECK(sample(text, "cost_usd_total{model=\"gpt-4o-2024-11-20\"}") == doctest::Approx(1000 * 1.25 / 1e6));
    CHECK(sample(text, "cost_usd_total{model=\"gpt-4o-mini-tts-2025-03-20\"}") == doctest::Approx(10 * 0.60 / 1e6));
    CHECK(sample(text, "calls_total{model=\"gpt-4o\"}") == 3);
    CHECK(text.find("ailog_exporter_unpriced_entries_total{") == std::string::npos);
}

TEST_CASE("a model without a price is counted, never priced at 0") {
    test::PipelineRun run({load_mapping(kMapping, "t.yml")});
    run.feed(R"({"msg":"done","time":1748779200000,"id":"a","capability":"other","usage":{"in":10,"out":1}})");
    run.feed(R"({"msg":"done","time":1748779201000,"id":"b","model":"o9","usage":{"in":10,"out":1}})");
    run.feed(R"({"msg":"done","time":1748779202000,"id":"c","model":"o9","usage":{"in":10,"out":1}})");
    run.feed(R"({"msg":"done","time":1748779203000,"id":"d","model":"gpt-4","usage":{"in":10,"out":1}})");
    const std::string text = run.text();
    CAPTURE(text);
    CHECK(text.find("cost_usd_total{") == std::string::npos);
    CHECK(sample(text, "ailog_exporter_unpriced_entries_total{metric=\"cost_usd_total\",model=\"unlisted-model\"}") ==
          1);
    CHECK(sample(text, "ailog_exporter_unpriced_entries_total{metric=\"cost_usd_total\",model=\"o9\"}") == 2);
    // A variant that is no dated snapshot is not its base model: gpt-4o-audio-preview is not gpt-4o.
    run.feed(R"({"msg":"done","time":1748779204000,"id":"e","model":"gpt-4o-audio-preview","usage":{"in":10}})");
    CHECK(sample(run.text(),
                 "ailog_exporter_unpriced_entries_total{metric=\"cost_usd_total\",model=\"gpt-4o-audio-"
                 "preview\"}") == 1);
    // gpt-4 is not gpt-4o.
    CHECK(sample(text, "ailog_exporter_unpriced_entries_total{metric=\"cost_usd_total\",model=\"gpt-4\"}") == 1);
    CHECK(sample(text, "calls_total{model=\"o9\"}") == 2);
}

TEST_CASE("exemplars: the latest id per bucket and per counter, in OpenMetrics only") {
    test::PipelineRun run({load_mapping(kMapping, "t.yml")});
    run.feed(R"({"msg":"done","time":1748779200000,"id":"first","model":"gpt-4o","ms":5})");
    run.feed(R"({"msg":"done","time":1748779200500,"id":"second","model":"gpt-4o","ms":7.5})");
    run.feed(R"({"msg":"done","time":1748779201250,"id":"slow","model":"gpt-4o","ms":250})");
    // An id longer than an exemplar holds leaves the previous one.
    run.feed(R"({"msg":"done","time":1748779202000,"id":")" + std::string(Exemplar::kMaxId + 1, 'x') +
             R"(","model":"gpt-4o","ms":300})");
    std::string om;
    run.store.render(om, "ailog_exporter_", Exposition::OpenMetrics);
    CAPTURE(om);
    CHECK(om.find("duration_ms_bucket{le=\"10\"} 2 # {request_id=\"second\"} 7.5 1748779200.5\n") != std::string::npos);
    CHECK(om.find("duration_ms_bucket{le=\"100\"} 2\n") != std::string::npos);
    CHECK(om.find("duration_ms_bucket{le=\"+Inf\"} 4 # {request_id=\"slow\"} 250 1748779201.25\n") !=
          std::string::npos);
    CHECK(om.find("calls_total{model=\"gpt-4o\"} 4 # {request_id=\"slow\"} 1 1748779201.25\n") != std::string::npos);
    CHECK(om.find("# TYPE calls counter\n") != std::string::npos);
    CHECK(om.ends_with("# EOF\n"));
    const std::string text = run.text("ailog_exporter_");
    CHECK(text.find(" # {") == std::string::npos);
    CHECK(text.find("# TYPE calls_total counter\n") != std::string::npos);
}

TEST_CASE("without exemplars in the mapping, none are kept") {
    std::string yaml = kMapping;
    yaml.erase(yaml.find("exemplars:"));
    test::PipelineRun run({load_mapping(yaml, "t.yml")});
    run.feed(R"({"msg":"done","time":1748779200000,"id":"first","model":"gpt-4o","ms":5})");
    std::string om;
    run.store.render(om, {}, Exposition::OpenMetrics);
    CAPTURE(om);
    CHECK(om.find(" # {") == std::string::npos);
    for (const auto& f : run.store.families())
        for (const auto& s : f->series) CHECK(s->exemplars == nullptr);
}

TEST_CASE("the mistakes of prices, costs, defaults and exemplars") {
    using test::first_problem;
    auto with = [](std::string_view from, std::string_view to) {
        std::string yaml = kMapping;
        yaml.replace(yaml.find(from), from.size(), to);
        return yaml;
    };
    CHECK(first_problem(with("{input: 0.15, output: 0.60}", "{input: 0.15}")) ==
          "t.yml:21:16: gpt-4o-mini: no output price");
    CHECK(first_problem(with("{input: 0.15, output: 0.60}", "{input: -1, output: 0.60}")) ==
          "t.yml:21:24: input: a price is 0 or more");
    CHECK(first_problem(with("{input: 0.15, output: 0.60}", "{input: 0.15, output: 0.60, batch: 1}"))
              .starts_with("t.yml:21:44: unknown key batch in a model's prices"));
    CHECK(first_problem(with("cached_input: cached,", "cached_input: model,")) ==
          "t.yml:30:49: field model is a string; a number is needed here");
    CHECK(first_problem(with("{cost: {input: in, cached_input: cached, output: out}}",
                             "{cost: {input: in, model_label: provider}}"))
              .starts_with("t.yml:30:48: a cost is priced by the model its label provider names"));
    CHECK(first_problem(with("{cost: {input: in, cached_input: cached, output: out}}", "{cost: {}}")) ==
          "t.yml:30:23: a cost needs the fields of its tokens: input, cached_input, output");
    CHECK(first_problem(with("{classifier: default_model}}}\n        value: {cost",
                             "{classifier: nope}}}\n        value: {cost")) == "t.yml:29:62: no classifier named nope");
    std::string no_prices = kMapping;
    no_prices.erase(no_prices.find("prices:"), no_prices.find("metrics:") - no_prices.find("prices:"));
    CHECK(first_problem(no_prices) ==
          "t.yml:26:23: a cost needs the mapping's prices: USD per million tokens by model");
    CHECK(first_problem(with("ms: {path: ms, type: number, non_negative: true}", "ms: {path: ms, type: number}"))
              .starts_with("t.yml:44:24: duration_ms only adds up: give field ms non_negative: true"));
    CHECK(first_problem(with("exemplars:",
                             "  - {name: calls, type: gauge, labels: []}\n  - {name: duration_ms_count, "
                             "type: gauge, labels: []}\nexemplars:")) ==
          "t.yml:45:12: metric calls and metric calls_total would both be named calls in OpenMetrics");
    CHECK(test::problems_of(with("exemplars:",
                                 "  - {name: calls, type: gauge, labels: []}\n  - {name: "
                                 "duration_ms_count, type: gauge, labels: []}\nexemplars:"))
              .at(1) ==
          "t.yml:46:12: metric duration_ms_count and metric duration_ms would both be named "
          "duration_ms_count in OpenMetrics");
    CHECK(first_problem(with("  field: id\n", "  field: ms\n")) ==
          "t.yml:46:10: field ms is a number; a string is needed here");
    CHECK(first_problem(with("  field: id\n", "  field: id\n  label: __id\n"))
              .starts_with("t.yml:47:10: __id is not a valid label name"));
    CHECK(first_problem(with("  field: id\n", "  field: id\n  label: " + std::string(65, 'l') + "\n"))
              .starts_with("t.yml:47:10: an exemplar's label name is at most 64 characters"));
}
