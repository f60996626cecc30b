// The metrics of a mapping file: names, labels, updates, correlation, summary.
#include "ailog/metric_store.hpp"
#include "common/duration.hpp"
#include "common/metric_names.hpp"
#include "config/loader.hpp"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ailog {

namespace {

LabelSource label_of(LabelSource::Kind kind, int index = -1, std::string constant = {}) {
    LabelSource l;
    l.kind = kind;
    l.index = index;
    l.constant = std::move(constant);
    return l;
}

}  // namespace

std::optional<std::string> exposition_clash(const MetricSpec& a, const MetricSpec& b) {
    const auto names = b.exposition_names();
    for (const auto& n : a.exposition_names())
        if (std::find(names.begin(), names.end(), n) != names.end()) return n;
    return std::nullopt;
}

void MappingLoader::label_hygiene(const YAML::Node& node, LabelSource& l) {
    if (const YAML::Node r = node["replace"]) {
        if (!r.IsSequence() || r.size() == 0)
            error(r, "replace must be a list of {pattern, with}");
        else
            for (const auto& n : r) {
                if (!keys(n, "a replacement", {"pattern", "with"})) continue;
                LabelRewrite rw;
                rw.pattern = text(n, "pattern").value_or("");
                rw.with = text(n, "with").value_or("");
                re2::RE2::Options options;
                options.set_log_errors(false);
                auto re = std::make_shared<const re2::RE2>(rw.pattern, options);
                std::string problem;
                if (!re->ok())
                    error(n["pattern"], fmt::format("pattern: {}", re->error()));
                else if (n["with"] && !re->CheckRewriteString(rw.with, &problem))
                    error(n["with"], fmt::format("with: {}", problem));
                rw.regex = std::move(re);
                l.replace.push_back(std::move(rw));
            }
    }
    if (const YAML::Node mv = node["max_values"]) {
        const auto n = number(mv, std::string_view("max_values"));
        if (n && !(*n >= 1 && *n <= 1e6 && *n == static_cast<double>(static_cast<uint32_t>(*n))))
            error(mv, "max_values must be a whole number from 1 to 1000000");
        else if (n)
            l.max_values = static_cast<uint32_t>(*n);
        l.overflow = node["overflow"] ? text(node, "overflow").value_or("") : "other";
    } else if (const YAML::Node o = node["overflow"]) {
        error(o, "overflow is the value past max_values: give max_values too");
    }
}

std::optional<LabelSource> MappingLoader::label_source(const YAML::Node& node) {
    if (node.IsScalar()) {
        if (node.as<std::string>() == "outcome") return label_of(LabelSource::Kind::Outcome);
        error(node, "a label's value is outcome, or one of {field: F}, {constant: C}, {classifier: N}");
        return std::nullopt;
    }
    if (!keys(node, "a label's value",
              {"field", "constant", "classifier", "default", "replace", "max_values", "overflow"}))
        return std::nullopt;
    const YAML::Node f = node["field"];
    const size_t sources = (f ? 1u : 0u) + (node["constant"] ? 1u : 0u) + (node["classifier"] ? 1u : 0u);
    if (sources != 1 || (!f && node.size() != 1)) {
        error(node,
              "a label's value is exactly one of field (with optional default, replace, max_values and overflow), "
              "constant or classifier");
        return std::nullopt;
    }
    if (f) {
        const auto s = text(f, std::string_view("field"));
        LabelSource l = label_of(LabelSource::Kind::Field, s ? field_index(f, *s, std::nullopt) : -1);
        if (l.index >= 0 && m_.fields[static_cast<size_t>(l.index)].type == FieldType::Timestamp)
            error(f, fmt::format("field {} is a timestamp; a label needs a string or a number", *s));
        if (const YAML::Node dflt = node["default"]) {
            l.has_default = true;
            if (dflt.IsMap()) {
                // {classifier: N}: a default that depends on the entry (a model by capability).
                if (keys(dflt, "a default", {"classifier"}))
                    if (const auto name = text(dflt, "classifier")) {
                        const auto it = classifier_names_.find(*name);
                        if (it == classifier_names_.end())
                            error(dflt["classifier"], fmt::format("no classifier named {}", *name));
                        else
                            l.default_classifier = it->second;
                    }
            } else {
                l.constant = text(dflt, std::string_view("default")).value_or("");
            }
        }
        label_hygiene(node, l);
        return l;
    }
    if (node["constant"]) return label_of(LabelSource::Kind::Constant, -1, text(node, "constant").value_or(""));
    const YAML::Node c = node["classifier"];
    const auto s = text(c, std::string_view("classifier"));
    if (!s) return std::nullopt;
    const auto it = classifier_names_.find(*s);
    if (it == classifier_names_.end()) {
        error(c, fmt::format("no classifier named {}", *s));
        return std::nullopt;
    }
    return label_of(LabelSource::Kind::Classified, it->second);
}

std::vector<LabelSource> MappingLoader::label_values(const YAML::Node& parent, const std::vector<std::string>& names,
                                                     const char* what) {
    std::vector<LabelSource> out(names.size());
    const YAML::Node node = parent["labels"];
    if (names.empty() && !node) return out;
    if (!node || !node.IsMap()) {
        error(node ? node : parent,
              fmt::format("{} must give a value for each label: {}", what, fmt::join(names, ", ")));
        return out;
    }
    std::vector<bool> given(names.size(), false);
    for (const auto& kv : node) {
        const std::string label = kv.first.as<std::string>();
        const auto it = std::find(names.begin(), names.end(), label);
        if (it == names.end()) {
            error(kv.first, fmt::format("{} is not a label of this metric ({})", label, fmt::join(names, ", ")));
            continue;
        }
        const size_t i = static_cast<size_t>(it - names.begin());
        given[i] = true;
        if (auto src = label_source(kv.second)) out[i] = *src;
    }
    for (size_t i = 0; i < names.size(); ++i)
        if (!given[i]) error(node, fmt::format("{} gives no value for label {}", what, names[i]));
    return out;
}

void MappingLoader::load_metric(const YAML::Node& node) {
    if (!keys(node, "a metric", {"name", "help", "type", "labels", "buckets", "updates"})) return;
    MetricSpec spec;
    const auto name = text(node, "name");
    if (!name) return;
    spec.name = *name;
    const YAML::Node name_node = node["name"];
    if (!valid_metric_name(spec.name))
        error(name_node, fmt::format("{} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", spec.name));
    else if (spec.name.starts_with("ailog_exporter_") || spec.name.starts_with("process_"))
        error(name_node,
              fmt::format("{}: names starting with ailog_exporter_ or process_ are the exporter's own", spec.name));
    for (const auto& other : m_.metrics)
        if (other.name == spec.name) error(name_node, fmt::format("metric {} is declared twice", spec.name));
    spec.help = text(node, "help", false).value_or("");
    const auto type = text(node, "type").value_or("");
    if (type == "counter")
        spec.type = MetricType::Counter;
    else if (type == "gauge")
        spec.type = MetricType::Gauge;
    else if (type == "histogram")
        spec.type = MetricType::Histogram;
    else if (!type.empty())
        error(node["type"], fmt::format("a metric's type is counter, gauge or histogram, not {}", type));
    if (spec.type == MetricType::Counter && !spec.name.ends_with("_total"))
        error(name_node, fmt::format("counter {} must end in _total", spec.name));
    if (const YAML::Node labels = node["labels"]) {
        if (!labels.IsSequence())
            error(labels, "labels must be a list of label names");
        else
            for (const auto& l : labels) {
                const auto s = text(l, std::string_view("a label name")).value_or("");
                if (!valid_label_name(s))
                    error(l, fmt::format("{} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", s));
                else if (s.starts_with("__"))
                    error(l, fmt::format("label names starting with __ are reserved: {}", s));
                else if (s == "le" && spec.type == MetricType::Histogram)
                    error(l, "a histogram cannot have a label named le");
                else if (std::find(spec.label_names.begin(), spec.label_names.end(), s) != spec.label_names.end())
                    error(l, fmt::format("label {} is listed twice", s));
                spec.label_names.push_back(s);
            }
    }
    if (const YAML::Node b = node["buckets"]) {
        if (spec.type != MetricType::Histogram) error(b, "only histograms have buckets");
        if (!b.IsSequence() || b.size() == 0)
            error(b, "buckets must be a list of upper bounds");
        else
            for (const auto& v : b) {
                const auto x = number(v, std::string_view("a bucket"));
                if (!x) continue;
                if (!spec.buckets.empty() && !(spec.buckets.back() < *x))
                    error(v, "buckets must be strictly increasing");
                spec.buckets.push_back(*x);
            }
    } else if (spec.type == MetricType::Histogram) {
        error(node, fmt::format("histogram {} has no buckets", spec.name));
    }
    if (const YAML::Node updates = node["updates"]) {
        if (!updates.IsSequence())
            error(updates, "updates must be a list");
        else
            for (const auto& u : updates) {
                if (!keys(u, "an update", {"entries", "labels", "value", "op"})) continue;
                Rule r;
                if (!u["entries"])
                    error(u, "an update needs entries: the entry kinds that make it");
                else
                    r.entries = kinds_of(u["entries"], "entries");
                r.labels = label_values(u, spec.label_names, "an update's labels");
                const YAML::Node v = u["value"];
                if (!v)
                    error(u, "an update needs a value: 1, or {field: F}");
                else if (v.IsMap() && v["cost"])
                    r.value = cost_value(v, spec);
                else if (v.IsScalar()) {
                    if (v.as<std::string>() != "1")
                        error(v, "a constant value must be 1; a number from the entry is {field: F}");
                } else if (keys(v, "a value", {"field", "else", "factor", "cost"})) {
                    const auto f = text(v, "field");
                    r.value = {ValueSource::Kind::Field, f ? field_index(v["field"], *f, FieldType::Number) : -1, 1};
                    if (const int fi = r.value.field;
                        fi >= 0 && spec.type != MetricType::Gauge && !m_.fields[static_cast<size_t>(fi)].non_negative)
                        error(v["field"],
                              fmt::format("{} only adds up: give field {} non_negative: true (a value below "
                                          "0 would make it go down, which a scraper refuses)",
                                          spec.name, *f));
                    if (const YAML::Node factor = v["factor"]) {
                        const auto x = number(factor, std::string_view("factor"));
                        if (x && !(*x > 0)) error(factor, "factor must be above 0");
                        r.value.factor = x.value_or(1);
                    }
                    if (const YAML::Node e = v["else"]) {
                        if (text(e, std::string_view("else")).value_or("") != "since_start")
                            error(e, "else can only be since_start");
                        else
                            r.value.kind = ValueSource::Kind::FieldOrCorrelated;
                    }
                }
                if (const YAML::Node op = u["op"]) {
                    const auto o = text(op, std::string_view("op")).value_or("");
                    if (spec.type != MetricType::Gauge)
                        error(op, "only a gauge's update has an op (counters and histograms only add)");
                    else if (o == "inc" || o == "dec" || o == "set")
                        r.op = o == "inc" ? GaugeOp::Inc : o == "dec" ? GaugeOp::Dec : GaugeOp::Set;
                    else
                        error(op, fmt::format("op must be inc, dec or set, not {}", o));
                }
                spec.rules.push_back(std::move(r));
            }
    }
    for (const auto& other : m_.metrics)
        if (other.name != spec.name)
            if (const auto clash = exposition_clash(spec, other))
                error(name_node, fmt::format("metric {} and metric {} would both be named {} in OpenMetrics", spec.name,
                                             other.name, *clash));
    m_.metrics.push_back(std::move(spec));
}

ValueSource MappingLoader::cost_value(const YAML::Node& v, const MetricSpec& spec) {
    ValueSource value;
    value.kind = ValueSource::Kind::Cost;
    if (!keys(v, "a value", {"cost"})) return value;
    const YAML::Node c = v["cost"];
    if (!keys(c, "a cost", {"input", "cached_input", "output", "model_label"})) return value;
    if (spec.type == MetricType::Gauge) error(c, "a cost adds up: give it to a counter or a histogram");
    static constexpr const char* kTokens[] = {"input", "cached_input", "output"};
    for (size_t i = 0; i < 3; ++i)
        if (const YAML::Node f = c[kTokens[i]])
            if (const auto name = text(f, std::string_view(kTokens[i]))) {
                value.tokens[i] = field_index(f, *name, FieldType::Number);
                if (value.tokens[i] >= 0 && !m_.fields[static_cast<size_t>(value.tokens[i])].non_negative)
                    error(f, fmt::format("a cost only adds up: give field {} non_negative: true", *name));
            }
    if (!c["input"] && !c["cached_input"] && !c["output"])
        error(c, "a cost needs the fields of its tokens: input, cached_input, output");
    const std::string label = c["model_label"] ? text(c, "model_label").value_or("") : "model";
    const auto it = std::find(spec.label_names.begin(), spec.label_names.end(), label);
    if (it == spec.label_names.end())
        error(c["model_label"] ? c["model_label"] : c,
              fmt::format("a cost is priced by the model its label {} names; {} has no label {} ({})", label, spec.name,
                          label, fmt::join(spec.label_names, ", ")));
    else
        value.model_label = static_cast<int>(it - spec.label_names.begin());
    if (!has_prices_) error(c, "a cost needs the mapping's prices: USD per million tokens by model");
    return value;
}

void MappingLoader::load_prices(const YAML::Node& node) {
    if (!node) return;
    has_prices_ = true;
    if (!node.IsMap()) {
        error(node, "prices is a map of model names to {input, cached_input, output}, USD per million tokens");
        return;
    }
    for (const auto& kv : node) {
        const std::string model = kv.first.IsScalar() ? kv.first.Scalar() : "";
        if (model.empty()) {
            error(kv.first, "a model's name is a non-empty text");
            continue;
        }
        const YAML::Node p = kv.second;
        if (!keys(p, "a model's prices", {"input", "cached_input", "output"})) continue;
        ModelPrice price;
        price.model = model;
        // USD per million tokens in the file, per token here.
        auto per_token = [&](const char* key, std::optional<double> fallback) -> double {
            const YAML::Node n = p[key];
            if (!n) {
                if (!fallback) error(p, fmt::format("{}: no {} price", model, key));
                return fallback.value_or(0) / 1e6;
            }
            const auto x = number(n, std::string_view(key));
            if (x && !(*x >= 0)) error(n, fmt::format("{}: a price is 0 or more", key));
            return x.value_or(0) / 1e6;
        };
        price.input = per_token("input", std::nullopt);
        price.cached_input = per_token("cached_input", price.input * 1e6);
        price.output = per_token("output", std::nullopt);
        for (const auto& other : m_.prices.models)
            if (other.model == model) error(kv.first, fmt::format("model {} is priced twice", model));
        m_.prices.models.push_back(std::move(price));
    }
}

void MappingLoader::load_exemplars(const YAML::Node& node) {
    if (!node) return;
    if (!keys(node, "exemplars", {"field", "label"})) return;
    if (const auto f = text(node, "field")) m_.exemplars.field = field_index(node["field"], *f, FieldType::String);
    if (const YAML::Node l = node["label"]) {
        const std::string label = text(l, std::string_view("label")).value_or("");
        if (!valid_label_name(label) || label.starts_with("__"))
            error(l, fmt::format("{} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", label));
        else if (label.size() > 128 - Exemplar::kMaxId)
            error(l, fmt::format("an exemplar's label name is at most {} characters (OpenMetrics allows 128 with its "
                                 "value, and an id may take {})",
                                 128 - Exemplar::kMaxId, Exemplar::kMaxId));
        m_.exemplars.label = label;
    }
}

void MappingLoader::load_correlation(const YAML::Node& node) {
    if (!node) return;
    if (!keys(node, "correlation", {"key", "in_flight", "from_start", "max_entries", "max_age"})) return;
    if (const YAML::Node n = node["max_entries"]) {
        const auto v = number(n, std::string_view("max_entries"));
        if (v && !(*v >= 0 && *v <= 1e8 && *v == static_cast<double>(static_cast<size_t>(*v))))
            error(n, "max_entries must be a whole number from 0 to 100000000");
        else if (v)
            m_.correlation.max_entries = static_cast<size_t>(*v);
    }
    if (const YAML::Node n = node["max_age"]) {
        const auto text_value = text(n, std::string_view("max_age"));
        const auto ms = text_value ? parse_duration_ms(*text_value) : std::nullopt;
        if (text_value && !ms)
            error(n, fmt::format("max_age must be a duration such as 10m or 1h30m, not {}", *text_value));
        else if (ms)
            m_.correlation.max_age_ms = *ms;
    }
    if (auto k = text(node, "key")) m_.correlation.key_field = field_index(node["key"], *k, FieldType::String);
    if (const YAML::Node fs = node["from_start"]) {
        if (!fs.IsSequence())
            error(fs, "from_start must be a list of fields");
        else
            for (const auto& n : fs)
                if (auto name = text(n, std::string_view("a field")))
                    if (const int f = field_index(n, *name, FieldType::String); f >= 0) {
                        if (std::find(m_.correlation.from_start.begin(), m_.correlation.from_start.end(), f) !=
                            m_.correlation.from_start.end())
                            error(n, fmt::format("field {} is listed twice", *name));
                        m_.correlation.from_start.push_back(f);
                    }
    }
    const YAML::Node g = node["in_flight"];
    if (!g || !keys(g, "in_flight", {"metric", "labels"})) return;
    const auto name = text(g, "metric");
    if (!name) return;
    for (size_t i = 0; i < m_.metrics.size(); ++i) {
        if (m_.metrics[i].name != *name) continue;
        if (m_.metrics[i].type != MetricType::Gauge)
            error(g["metric"], fmt::format("in-flight metric {} must be a gauge", *name));
        m_.correlation.in_flight_metric = static_cast<int>(i);
        m_.correlation.in_flight_labels = label_values(g, m_.metrics[i].label_names, "in_flight's labels");
        return;
    }
    error(g["metric"], fmt::format("no metric named {}", *name));
}

void MappingLoader::load_summary(const YAML::Node& node) {
    if (!node) return;
    if (!keys(node, "summary", {"requests", "durations", "tokens", "cost"})) return;
    SummarySpec& s = m_.summary;
    auto get = [&](const YAML::Node& n, const char* key) { return text(n, key, false).value_or(""); };
    if (const YAML::Node c = node["cost"]; c && keys(c, "summary.cost", {"metric"})) {
        s.cost_metric = get(c, "metric");
        for (const auto& m : m_.metrics)
            if (m.name == s.cost_metric)
                for (const auto& r : m.rules)
                    if (r.value.kind == ValueSource::Kind::Cost && r.value.model_label >= 0)
                        s.cost_model_label = m.label_names[static_cast<size_t>(r.value.model_label)];
    }
    if (const YAML::Node r = node["requests"];
        r && keys(r, "summary.requests", {"metric", "outcome_label", "success"})) {
        s.requests_metric = get(r, "metric");
        s.outcome_label = get(r, "outcome_label");
        s.success_value = get(r, "success");
    }
    if (const YAML::Node d = node["durations"]; d && keys(d, "summary.durations", {"metric", "unit"})) {
        s.duration_metric = get(d, "metric");
        s.duration_unit = get(d, "unit");
    }
    if (const YAML::Node t = node["tokens"];
        t && keys(t, "summary.tokens", {"metric", "type_label", "input", "output"})) {
        s.tokens_metric = get(t, "metric");
        s.tokens_type_label = get(t, "type_label");
        s.tokens_in_value = get(t, "input");
        s.tokens_out_value = get(t, "output");
    }
}

}  // namespace ailog
