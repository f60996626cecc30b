// The YAML mapping loader: yaml-cpp's nodes, walked with their positions.
#include "config/mapping_loader.hpp"

#include "common/metric_names.hpp"
#include "config/yaml_reader.hpp"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>

namespace ailog {

extern const char kBuiltinMappingYaml[];  // generated from examples/executeparse.yml

namespace {

// Walks the document, collecting every mistake with its position.
class Loader : public YamlReader {
public:
    using YamlReader::YamlReader;

    Mapping load(const YAML::Node& root);

private:
    int field_index(const YAML::Node& at, const std::string& name, std::optional<FieldType> type);
    int kind_index(const YAML::Node& at, const std::string& name);
    uint32_t kinds_of(const YAML::Node& node, const char* what);
    std::optional<LabelSource> label_source(const YAML::Node& node);
    // The value of each of `names` under parent's key labels.
    std::vector<LabelSource> label_values(const YAML::Node& parent, const std::vector<std::string>& names,
                                          const char* what);
    void load_fields(const YAML::Node& root);
    void load_entries(const YAML::Node& root);
    std::vector<Condition> conditions(const YAML::Node& node);
    void load_classifiers(const YAML::Node& node);
    void load_metric(const YAML::Node& node);
    void load_correlation(const YAML::Node& node);
    void load_summary(const YAML::Node& node);

    Mapping m_;
    std::map<std::string, int> classifier_names_;
    std::vector<std::pair<YAML::Node, std::vector<std::string>>> required_;  // per field: kinds, resolved later
};

int Loader::field_index(const YAML::Node& at, const std::string& name, std::optional<FieldType> type) {
    for (size_t i = 0; i < m_.fields.size(); ++i) {
        if (m_.fields[i].name != name) continue;
        if (type && m_.fields[i].type != *type) {
            static constexpr const char* kTypes[] = {"string", "number", "timestamp"};
            error(at, fmt::format("field {} is a {}; a {} is needed here", name,
                                  kTypes[static_cast<int>(m_.fields[i].type)], kTypes[static_cast<int>(*type)]));
        }
        return static_cast<int>(i);
    }
    error(at, fmt::format("no field named {} (declare it under fields)", name));
    return -1;
}

int Loader::kind_index(const YAML::Node& at, const std::string& name) {
    for (size_t i = 0; i < m_.kinds.size(); ++i)
        if (m_.kinds[i].name == name) return static_cast<int>(i);
    error(at, fmt::format("no entry kind named {}", name));
    return -1;
}

uint32_t Loader::kinds_of(const YAML::Node& node, const char* what) {
    uint32_t bits = 0;
    if (!node.IsSequence()) {
        error(node, fmt::format("{} must be a list of entry kinds", what));
        return 0;
    }
    for (const auto& n : node)
        if (auto s = text(n, std::string_view(what)))
            if (const int k = kind_index(n, *s); k >= 0) bits |= kind_bit(k);
    return bits;
}

void Loader::load_fields(const YAML::Node& root) {
    auto candidates = [&](const char* key, FieldType type) {
        const YAML::Node n = root[key];
        FieldSpec f{key, type, {}, 0, false};
        if (!n) {
            if (type == FieldType::String)
                error(root, fmt::format("{} is required: the keys that hold an entry's message", key));
            return -1;
        }
        for (const auto& p : texts(n, key)) f.paths.push_back(split_path(p));
        m_.fields.push_back(std::move(f));
        return static_cast<int>(m_.fields.size() - 1);
    };
    m_.message_field = candidates("message", FieldType::String);
    m_.time_field = candidates("time", FieldType::Timestamp);

    each_named(root["fields"], "field", {"path", "type", "required", "non_negative"},
               [&](const std::string& name, const YAML::Node& at, const YAML::Node& spec) {
                   for (const auto& f : m_.fields)
                       if (f.name == name) error(at, fmt::format("field {} is declared twice", name));
                   FieldSpec f{name, FieldType::String, {}, 0, false};
                   if (!spec["path"])
                       error(spec, fmt::format("field {} has no path", name));
                   else
                       for (const auto& p : texts(spec["path"], "path")) f.paths.push_back(split_path(p));
                   if (const YAML::Node t = spec["type"]) {
                       const auto s = text(t, std::string_view("type")).value_or("");
                       if (s == "string")
                           f.type = FieldType::String;
                       else if (s == "number")
                           f.type = FieldType::Number;
                       else if (s == "timestamp")
                           f.type = FieldType::Timestamp;
                       else
                           error(t, fmt::format("type must be string, number or timestamp, not {}", s));
                   }
                   if (const YAML::Node nn = spec["non_negative"])
                       f.non_negative = boolean(nn, "non_negative").value_or(false);
                   required_.emplace_back(spec["required"], std::vector<std::string>{});
                   m_.fields.push_back(std::move(f));
               });
}

std::vector<Condition> Loader::conditions(const YAML::Node& node) {
    std::vector<Condition> out;
    if (!node.IsSequence() || node.size() == 0) {
        error(node, "when must be a list of conditions such as {field: level, equals: error}");
        return out;
    }
    for (const auto& n : node) {
        if (!keys(n, "a condition", {"field", "equals", "one_of", "prefix", "matches", "exists"})) continue;
        if (n.size() != 2) {
            error(n, "a condition is a field and one of equals, one_of, prefix, matches or exists");
            continue;
        }
        Condition c;
        const auto name = text(n, "field");
        if (!name) continue;
        const bool exists = static_cast<bool>(n["exists"]);
        c.field = field_index(n["field"], *name, exists ? std::nullopt : std::optional(FieldType::String));
        if (exists) {
            if (!boolean(n["exists"], std::string_view("exists")).value_or(true))
                error(n["exists"], "exists can only be true (an entry kind lists what it has)");
            c.op = Condition::Op::Exists;
        } else if (n["one_of"]) {
            c.op = Condition::Op::OneOf;
            c.values = texts(n["one_of"], "one_of");
        } else {
            const char* op = n["equals"] ? "equals" : n["prefix"] ? "prefix" : "matches";
            c.op = n["equals"] ? Condition::Op::Equals : n["prefix"] ? Condition::Op::Prefix : Condition::Op::Matches;
            c.values = {text(n, op).value_or("")};
            if (c.op == Condition::Op::Matches) {
                re2::RE2::Options options;
                options.set_log_errors(false);
                auto re = std::make_shared<const re2::RE2>(c.values[0], options);
                if (!re->ok()) error(n["matches"], fmt::format("matches: {}", re->error()));
                c.regex = std::move(re);
            }
        }
        out.push_back(std::move(c));
    }
    return out;
}

void Loader::load_entries(const YAML::Node& root) {
    const YAML::Node node = root["entries"];
    if (!node) return error(root, "entries is required: the kinds of entry and their messages");
    each_named(node, "entry", {"message", "role", "outcome", "when"},
               [&](const std::string& name, const YAML::Node&, const YAML::Node& spec) {
                   EntryKind k{name, "", EntryRole::End, "", {}};
                   if (spec["when"]) k.conditions = conditions(spec["when"]);
                   k.message = text(spec, "message", k.conditions.empty()).value_or("");
                   if (const YAML::Node r = spec["role"]) {
                       const auto s = text(r, std::string_view("role")).value_or("");
                       if (s == "start")
                           k.role = EntryRole::Start;
                       else if (s != "end")
                           error(r, fmt::format("role must be start or end, not {}", s));
                   }
                   k.outcome = text(spec, "outcome", false).value_or("");
                   m_.kinds.push_back(std::move(k));
               });
}

void Loader::load_classifiers(const YAML::Node& node) {
    each_named(node, "classifier", {"field", "ranges", "map", "otherwise", "missing"},
               [&](const std::string& name, const YAML::Node&, const YAML::Node& spec) {
                   Classifier c;
                   const YAML::Node map = spec["map"];
                   const FieldType type = map ? FieldType::String : FieldType::Number;
                   if (auto f = text(spec, "field")) c.field = field_index(spec["field"], *f, type);
                   const YAML::Node ranges = spec["ranges"];
                   if (map && ranges) {
                       error(spec, fmt::format("classifier {} has ranges (a number field) or a map (a string "
                                               "field), not both",
                                               name));
                   } else if (map) {
                       if (!map.IsMap() || map.size() == 0)
                           error(map, "map must be a map of field values to label values");
                       else
                           for (const auto& kv : map)
                               if (auto to = text(kv.second, std::string_view("a label value")))
                                   c.values.emplace_back(kv.first.as<std::string>(), *to);
                   } else if (!ranges || !ranges.IsSequence()) {
                       error(spec,
                             fmt::format("classifier {} needs ranges (a list of from, to, value) or a map", name));
                   } else
                       for (const auto& r : ranges) {
                           if (!keys(r, "a range", {"from", "to", "value"})) continue;
                           const auto lo = number(r, "from");
                           const auto hi = number(r, "to");
                           const auto v = text(r, "value");
                           if (lo && hi && *lo > *hi) error(r, "a range's from is above its to");
                           if (lo && hi && v) c.ranges.push_back({*lo, *hi, *v});
                       }
                   c.otherwise = text(spec, "otherwise", false).value_or("");
                   c.missing = text(spec, "missing", false).value_or("");
                   classifier_names_[name] = static_cast<int>(m_.classifiers.size());
                   m_.classifiers.push_back(std::move(c));
               });
}

std::optional<LabelSource> Loader::label_source(const YAML::Node& node) {
    if (node.IsScalar()) {
        if (node.as<std::string>() == "outcome") return LabelSource{LabelSource::Kind::Outcome, -1, {}, false};
        error(node, "a label's value is outcome, or one of {field: F}, {constant: C}, {classifier: N}");
        return std::nullopt;
    }
    if (!keys(node, "a label's value", {"field", "constant", "classifier", "default"})) return std::nullopt;
    const YAML::Node dflt = node["default"];
    if (node.size() != (dflt ? 2u : 1u) || (dflt && !node["field"])) {
        error(node, "a label's value is exactly one of field (with an optional default), constant or classifier");
        return std::nullopt;
    }
    if (const YAML::Node f = node["field"]) {
        const auto s = text(f, std::string_view("field"));
        LabelSource l{LabelSource::Kind::Field, s ? field_index(f, *s, FieldType::String) : -1, {}, false};
        if (dflt) {
            l.constant = text(dflt, std::string_view("default")).value_or("");
            l.has_default = true;
        }
        return l;
    }
    if (node["constant"])
        return LabelSource{LabelSource::Kind::Constant, -1, text(node, "constant").value_or(""), false};
    const YAML::Node c = node["classifier"];
    const auto s = text(c, std::string_view("classifier"));
    if (!s) return std::nullopt;
    const auto it = classifier_names_.find(*s);
    if (it == classifier_names_.end()) {
        error(c, fmt::format("no classifier named {}", *s));
        return std::nullopt;
    }
    return LabelSource{LabelSource::Kind::Classified, it->second, {}, false};
}

std::vector<LabelSource> Loader::label_values(const YAML::Node& parent, const std::vector<std::string>& names,
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

void Loader::load_metric(const YAML::Node& node) {
    if (!keys(node, "a metric", {"name", "help", "type", "labels", "buckets", "updates"})) return;
    MetricSpec spec;
    const auto name = text(node, "name");
    if (!name) return;
    spec.name = *name;
    const YAML::Node name_node = node["name"];
    if (!valid_metric_name(spec.name))
        error(name_node, fmt::format("{} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", spec.name));
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
                if (!keys(u, "an update", {"entries", "labels", "value"})) continue;
                Rule r;
                if (!u["entries"])
                    error(u, "an update needs entries: the entry kinds that make it");
                else
                    r.entries = kinds_of(u["entries"], "entries");
                r.labels = label_values(u, spec.label_names, "an update's labels");
                const YAML::Node v = u["value"];
                if (!v)
                    error(u, "an update needs a value: 1, or {field: F}");
                else if (v.IsScalar()) {
                    if (v.as<std::string>() != "1")
                        error(v, "a constant value must be 1; a number from the entry is {field: F}");
                } else if (keys(v, "a value", {"field", "else", "factor"})) {
                    const auto f = text(v, "field");
                    r.value = {ValueSource::Kind::Field, f ? field_index(v["field"], *f, FieldType::Number) : -1, 1};
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
                spec.rules.push_back(std::move(r));
            }
    }
    m_.metrics.push_back(std::move(spec));
}

void Loader::load_correlation(const YAML::Node& node) {
    if (!node) return;
    if (!keys(node, "correlation", {"key", "in_flight"})) return;
    if (auto k = text(node, "key")) m_.correlation.key_field = field_index(node["key"], *k, FieldType::String);
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

void Loader::load_summary(const YAML::Node& node) {
    if (!node) return;
    if (!keys(node, "summary", {"requests", "durations", "tokens"})) return;
    SummarySpec& s = m_.summary;
    auto get = [&](const YAML::Node& n, const char* key) { return text(n, key, false).value_or(""); };
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

Mapping Loader::load(const YAML::Node& root) {
    if (!root.IsMap()) {
        error(root, "a mapping file is a map (message, time, fields, entries, metrics, ...)");
        return m_;
    }
    keys(root, "the mapping",
         {"message", "time", "fields", "entries", "classifiers", "metrics", "correlation", "summary"});
    load_fields(root);
    load_entries(root);
    // A field's required kinds are entry kinds: known only now.
    for (size_t i = 0; i < required_.size(); ++i)
        if (required_[i].first)
            m_.fields[m_.fields.size() - required_.size() + i].required_in = kinds_of(required_[i].first, "required");
    load_classifiers(root["classifiers"]);
    if (const YAML::Node metrics = root["metrics"]) {
        if (!metrics.IsSequence())
            error(metrics, "metrics must be a list");
        else
            for (const auto& n : metrics) load_metric(n);
    }
    load_correlation(root["correlation"]);
    load_summary(root["summary"]);
    if (problems().empty())
        if (auto problem = m_.validate()) error(root, *problem);
    return m_;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(problems.empty() ? std::string("invalid mapping") : problems.front()),
      problems_(std::move(problems)) {}

Mapping load_mapping(std::string_view yaml, const std::string& file_name) {
    Loader loader(file_name);
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::ParserException& e) {
        throw ConfigError({fmt::format("{}:{}:{}: {}", file_name, e.mark.line + 1, e.mark.column + 1, e.msg)});
    }
    Mapping m = loader.load(root);
    if (!loader.problems().empty()) throw ConfigError(std::move(loader.problems()));
    return m;
}

Mapping load_mapping_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError({fmt::format("{}: cannot read: {}", path, std::strerror(errno))});
    std::ostringstream text;
    text << in.rdbuf();
    return load_mapping(text.str(), path);
}

std::string_view builtin_mapping_yaml() {
    return kBuiltinMappingYaml;
}

Mapping builtin_mapping() {
    return load_mapping(kBuiltinMappingYaml, "examples/executeparse.yml");
}

}  // namespace ailog
