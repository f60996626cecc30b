// Mapping: the data that tells the generic decoder which JSON fields to
// extract and the generic deriver which metric updates each entry makes.
//
// Nothing in the code knows about "capability", "tokens" or "requestId": a
// mapping file (src/config/, docs/config.md) fills in a Mapping, and the
// built-in one is examples/executeparse.yml.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace re2 {
class RE2;
}

namespace ailog {

enum class FieldType : uint8_t {
    String,     // a JSON string
    Number,     // a JSON number, integral or fractional
    Timestamp,  // a time, in the field's TimeFormat
    Level,      // a string, or pino's and bunyan's numbers (30: "info", 50: "error")
};

// How a Timestamp field is written.
enum class TimeFormat : uint8_t {
    Auto,     // RFC 3339 / ISO 8601 text, or an epoch number whose unit its size tells
    Rfc3339,  // RFC 3339 / ISO 8601 text only
    EpochS,   // an epoch number (or numeric text) in seconds
    EpochMs,
    EpochUs,
    EpochNs,
    Pattern,  // text in a strftime-style pattern (FieldSpec::time_pattern)
};

// One value extracted from an entry. `paths` are alternatives in priority
// order (e.g. winston's "message" and pino's "msg"); each path is a list of
// object keys from the top level down.
struct FieldSpec {
    std::string name;
    FieldType type = FieldType::String;
    std::vector<std::vector<std::string>> paths;
    // Bit i set: entries of kind i are skipped (reason missing_field) without it.
    uint32_t required_in = 0;
    // Numbers only: values below zero are rejected (reason invalid_value).
    bool non_negative = false;
    // Timestamps only.
    TimeFormat time_format = TimeFormat::Auto;
    std::string time_pattern;

    bool operator==(const FieldSpec&) const = default;
};

enum class EntryRole : uint8_t { Start, End };

// A condition on a string field of an entry.
struct Condition {
    enum class Op : uint8_t { Equals, OneOf, Prefix, Matches, Exists };
    int field = -1;
    Op op = Op::Exists;
    std::vector<std::string> values;        // Equals: one; OneOf: several; Prefix: one; Matches: the pattern
    std::shared_ptr<const re2::RE2> regex;  // Matches: compiled once, matched in linear time

    bool operator==(const Condition& o) const { return field == o.field && op == o.op && values == o.values; }
};

// A kind of entry, recognised by the value of the message field, and by
// conditions that must all hold. A message also matches when the logger
// appended text after a space (winston does this when an Error is passed as
// metadata: "executeParse - failed <error text>"). An empty message matches
// any; a kind then needs at least one condition.
struct EntryKind {
    std::string name;     // used in self-metrics, e.g. "succeeded"
    std::string message;  // e.g. "executeParse - succeeded"
    EntryRole role = EntryRole::End;
    std::string outcome;  // value of the Outcome label source for End kinds
    std::vector<Condition> conditions;

    bool operator==(const EntryKind&) const = default;
};

// Maps a numeric field to a label value (e.g. HTTP status -> error_type).
struct Classifier {
    struct Range {
        double low;
        double high;  // inclusive
        std::string value;
        bool operator==(const Range&) const = default;
    };
    int field = -1;
    std::vector<Range> ranges;  // first match wins
    std::string otherwise;      // field present, no range or value matched
    std::string missing;        // field absent
    // A string field: a value map, label value by field value.
    std::vector<std::pair<std::string, std::string>> values;

    bool operator==(const Classifier&) const = default;
};

// Every match of `pattern` in a label's value replaced by `with` (\\1 is
// the first group): "/users/123" -> "/users/:id".
struct LabelRewrite {
    std::string pattern;
    std::string with;
    std::shared_ptr<const re2::RE2> regex;  // `pattern`, compiled once

    bool operator==(const LabelRewrite& o) const { return pattern == o.pattern && with == o.with; }
};

struct LabelSource {
    enum class Kind : uint8_t { Field, Constant, Outcome, Classified };
    Kind kind = Kind::Constant;
    int index = -1;        // Field: field index; Classified: classifier index
    std::string constant;  // Constant; Field with has_default: the value when the field is absent
    bool has_default = false;
    // Field: rewrites applied in order to the field's value.
    std::vector<LabelRewrite> replace;
    // Field: at most this many distinct values per metric and label (0: no
    // limit); later new values become `overflow`, counted.
    uint32_t max_values = 0;
    std::string overflow;
    // Field with has_default: when not -1, the default is this classifier's
    // value instead of `constant` (a model by capability).
    int default_classifier = -1;

    bool operator==(const LabelSource&) const = default;
};

struct ValueSource {
    enum class Kind : uint8_t {
        One,                // +1 / observe 1
        Field,              // the number in `field`; rule skipped when absent
        FieldOrCorrelated,  // `field`, else end time - start time of the correlated start
        Cost,               // tokens times the price of the model named by a label (Mapping::prices)
    };
    Kind kind = Kind::One;
    int field = -1;
    double factor = 1;  // Field, FieldOrCorrelated: the value is multiplied by it (0.001: ms to s)
    // Cost: the number fields of input (cached ones included), cached input
    // and output tokens (-1: none), and the metric's label naming the model.
    std::array<int, 3> tokens{-1, -1, -1};
    int model_label = -1;

    bool operator==(const ValueSource&) const = default;
};

enum class MetricType : uint8_t { Counter, Gauge, Histogram };

// How a gauge's rule changes it; counters and histograms only add.
enum class GaugeOp : uint8_t { Inc, Dec, Set };

// One metric update made for every entry whose kind is in `entries`.
struct Rule {
    uint32_t entries = 0;             // bit i: entry kind i
    std::vector<LabelSource> labels;  // one per label name of the metric
    ValueSource value;
    GaugeOp op = GaugeOp::Inc;

    bool operator==(const Rule&) const = default;
};

struct MetricSpec {
    std::string name;
    std::string help;
    MetricType type = MetricType::Counter;
    std::vector<std::string> label_names;
    std::vector<double> buckets;  // histograms: upper bounds, ascending, no +Inf
    std::vector<Rule> rules;

    // The names it takes in an OpenMetrics exposition: its family's (a
    // counter's without _total) and its samples'. Two metrics of one
    // exposition share none.
    std::vector<std::string> exposition_names() const;

    bool operator==(const MetricSpec&) const = default;
};

// Start and end entries of one call share a key; the table of open starts
// gives failure durations and the in-flight gauge.
struct CorrelationSpec {
    int key_field = -1;
    int in_flight_metric = -1;                  // a Gauge in `metrics`, or -1
    std::vector<LabelSource> in_flight_labels;  // taken from the start entry
    // Text fields an end entry takes from its start when it lacks them
    // (Fastify logs the method and URL only on "incoming request").
    std::vector<int> from_start;
    // Bounds of the open starts; unset: --correlation.max-entries and
    // --correlation.max-age.
    std::optional<size_t> max_entries;
    std::optional<double> max_age_ms;

    bool operator==(const CorrelationSpec&) const = default;
};

// How the replay summary reads the metrics: which counter counts requests
// (and which of its labels gives the outcome), which histogram holds
// durations, which counter holds tokens (and which label their direction).
struct SummarySpec {
    std::string requests_metric;
    std::string outcome_label;
    std::string success_value;
    std::string duration_metric;
    std::string duration_unit;  // e.g. "ms"
    std::string tokens_metric;
    std::string tokens_type_label;
    std::string tokens_in_value;
    std::string tokens_out_value;
    std::string cost_metric;       // a counter in USD, grouped by the requests' labels it has
    std::string cost_model_label;  // its label naming the model (set from the metric's cost update)

    bool operator==(const SummarySpec&) const = default;
};

// What a model's tokens cost, in USD per token (the file gives USD per
// million tokens).
struct ModelPrice {
    std::string model;
    double input = 0;
    double cached_input = 0;
    double output = 0;

    bool operator==(const ModelPrice&) const = default;
};

struct PriceTable {
    std::vector<ModelPrice> models;

    // The price of `model`: its own, else, for a dated snapshot, its model's
    // (gpt-4o-2024-08-06 and claude-opus-4-5-20251101 take gpt-4o's and
    // claude-opus-4-5's; o3-mini does not take o3's); nullptr when there is
    // none.
    const ModelPrice* find(std::string_view model) const;

    bool operator==(const PriceTable&) const = default;
};

// Exemplars: the value of `field` (a string field), under `label`, with the
// latest observation of each histogram bucket and the latest increase of
// each counter.
struct ExemplarSpec {
    int field = -1;  // -1: none
    std::string label = "request_id";

    bool operator==(const ExemplarSpec&) const = default;
};

struct Mapping {
    // Its name in a file of several mappings (`mappings:`); "" alone.
    std::string name;
    SummarySpec summary;
    std::vector<FieldSpec> fields;
    int message_field = -1;  // a String field; every alternative path is tried
    int time_field = -1;     // a Timestamp field
    std::vector<EntryKind> kinds;
    std::vector<Classifier> classifiers;
    std::vector<MetricSpec> metrics;
    CorrelationSpec correlation;
    PriceTable prices;
    ExemplarSpec exemplars;

    // Checks indices and types; returns a description of the first problem.
    std::optional<std::string> validate() const;
    // The labels whose distinct values are limited, as (metric, label)
    // indices, each once, in the order of the metrics and their labels.
    std::vector<std::pair<int, int>> limited_labels() const;
    // Bit i: field i is read once an entry is decoded (by a rule, a
    // classifier or the correlation), not only to decode it (its kind, time).
    uint32_t derived_fields() const;

    bool operator==(const Mapping&) const = default;
};

// The mappings of one file. Each reads every line on its own, with its own
// fields, entry kinds, metrics and correlation; a line may be an entry of
// several. Names of mappings, metrics and entry kinds are unique in the file.
using Mappings = std::vector<Mapping>;

constexpr uint32_t kind_bit(int kind) {
    return 1u << static_cast<unsigned>(kind);
}

}  // namespace ailog
