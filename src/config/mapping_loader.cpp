// The YAML mapping loader: yaml-cpp's nodes, walked with their positions.
#include "config/mapping_loader.hpp"

#include "common/choice.hpp"
#include "common/time_pattern.hpp"
#include "config/loader.hpp"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

namespace ailog {

extern const char kBuiltinMappingYaml[];  // generated from examples/executeparse.yml

namespace {

constexpr Choice<FieldType> kFieldTypeNames[] = {{"string", FieldType::String},
                                                 {"number", FieldType::Number},
                                                 {"timestamp", FieldType::Timestamp},
                                                 {"level", FieldType::Level}};
constexpr Choice<TimeFormat> kTimeFormatNames[] = {
    {"auto", TimeFormat::Auto},        {"rfc3339", TimeFormat::Rfc3339},  {"epoch_s", TimeFormat::EpochS},
    {"epoch_ms", TimeFormat::EpochMs}, {"epoch_us", TimeFormat::EpochUs}, {"epoch_ns", TimeFormat::EpochNs}};

}  // namespace

int MappingLoader::field_index(const YAML::Node& at, const std::string& name, std::optional<FieldType> type) {
    for (size_t i = 0; i < m_.fields.size(); ++i) {
        if (m_.fields[i].name != name) continue;
        const FieldType t = m_.fields[i].type;
        if (type && t != *type && !(t == FieldType::Level && *type == FieldType::String)) {
            error(at, fmt::format("field {} is a {}; a {} is needed here", name, choice_name(t, kFieldTypeNames),
                                  choice_name(*type, kFieldTypeNames)));
        }
        return static_cast<int>(i);
    }
    error(at, fmt::format("no field named {} (declare it under fields)", name));
    return -1;
}

int MappingLoader::kind_index(const YAML::Node& at, const std::string& name) {
    for (size_t i = 0; i < m_.kinds.size(); ++i)
        if (m_.kinds[i].name == name) return static_cast<int>(i);
    error(at, fmt::format("no entry kind named {}", name));
    return -1;
}

uint32_t MappingLoader::kinds_of(const YAML::Node& node, const char* what) {
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

void MappingLoader::time_format(const YAML::Node& node, FieldSpec& f) {
    const auto s = text(node, std::string_view("format")).value_or("");
    if (const auto format = parse_choice(s, kTimeFormatNames)) {
        f.time_format = *format;
        return;
    }
    if (s.find('%') == std::string::npos)
        return error(node, fmt::format("format must be auto, rfc3339, epoch_s, epoch_ms, epoch_us, epoch_ns or a "
                                       "strftime-style pattern such as %d/%b/%Y:%H:%M:%S %z, not {}",
                                       s));
    if (auto problem = check_time_pattern(s)) return error(node, fmt::format("format {}: {}", s, *problem));
    f.time_format = TimeFormat::Pattern;
    f.time_pattern = s;
}

void MappingLoader::load_fields(const YAML::Node& root) {
    // message, time, level: a key, a list of keys, or {path, format}.
    auto candidates = [&](const char* key, FieldType type) {
        const YAML::Node n = root[key];
        FieldSpec f{key, type, {}, 0, false, TimeFormat::Auto, {}};
        if (!n) {
            if (type == FieldType::String)
                error(root, fmt::format("{} is required: the keys that hold an entry's message", key));
            return -1;
        }
        // yaml-cpp's Node::operator= writes through to the node: reset() rebinds.
        YAML::Node paths;
        paths.reset(n);
        if (n.IsMap()) {
            if (type == FieldType::Timestamp ? !keys(n, key, {"path", "format"}) : !keys(n, key, {"path"})) return -1;
            if (!n["path"]) {
                error(n, fmt::format("{} needs a path: a key or a list of keys", key));
                return -1;
            }
            paths.reset(n["path"]);
            if (n["format"]) time_format(n["format"], f);
        }
        for (const auto& p : texts(paths, key)) f.paths.push_back(split_path(p));
        m_.fields.push_back(std::move(f));
        return static_cast<int>(m_.fields.size() - 1);
    };
    m_.message_field = candidates("message", FieldType::String);
    m_.time_field = candidates("time", FieldType::Timestamp);
    candidates("level", FieldType::Level);

    each_named(root["fields"], "field", {"path", "type", "required", "non_negative", "format"},
               [&](const std::string& name, const YAML::Node& at, const YAML::Node& spec) {
                   for (const auto& f : m_.fields)
                       if (f.name == name) error(at, fmt::format("field {} is declared twice", name));
                   FieldSpec f{name, FieldType::String, {}, 0, false, TimeFormat::Auto, {}};
                   if (!spec["path"])
                       error(spec, fmt::format("field {} has no path", name));
                   else
                       for (const auto& p : texts(spec["path"], "path")) f.paths.push_back(split_path(p));
                   if (const YAML::Node t = spec["type"]) {
                       const auto s = text(t, std::string_view("type")).value_or("");
                       if (const auto type = parse_choice(s, kFieldTypeNames))
                           f.type = *type;
                       else
                           error(t, fmt::format("type must be string, number, timestamp or level, not {}", s));
                   }
                   if (const YAML::Node fm = spec["format"]) {
                       if (f.type != FieldType::Timestamp)
                           error(fm, "only a timestamp field has a format");
                       else
                           time_format(fm, f);
                   }
                   if (const YAML::Node nn = spec["non_negative"])
                       f.non_negative = boolean(nn, "non_negative").value_or(false);
                   required_.emplace_back(spec["required"], std::vector<std::string>{});
                   m_.fields.push_back(std::move(f));
               });
}

std::vector<Condition> MappingLoader::conditions(const YAML::Node& node) {
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

void MappingLoader::load_entries(const YAML::Node& root) {
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

void MappingLoader::load_classifiers(const YAML::Node& node) {
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

Mapping MappingLoader::load(const YAML::Node& root) {
    if (!root.IsMap()) {
        error(root, "a mapping file is a map (message, time, fields, entries, metrics, ...)");
        return m_;
    }
    keys(root, "the mapping",
         {"message", "time", "level", "fields", "entries", "classifiers", "prices", "metrics", "correlation",
          "exemplars", "summary"});
    load_fields(root);
    load_entries(root);
    // A field's required kinds are entry kinds: known only now.
    for (size_t i = 0; i < required_.size(); ++i)
        if (required_[i].first)
            m_.fields[m_.fields.size() - required_.size() + i].required_in = kinds_of(required_[i].first, "required");
    load_classifiers(root["classifiers"]);
    load_prices(root["prices"]);
    if (const YAML::Node metrics = root["metrics"]) {
        if (!metrics.IsSequence())
            error(metrics, "metrics must be a list");
        else
            for (const auto& n : metrics) load_metric(n);
    }
    load_correlation(root["correlation"]);
    load_exemplars(root["exemplars"]);
    load_summary(root["summary"]);
    if (problems().empty())
        if (auto problem = m_.validate()) error(root, *problem);
    return m_;
}

namespace {

// One mapping of the file (the root, or an entry of `mappings`).
Mapping load_one(const YAML::Node& node, const std::string& file_name, std::vector<std::string>& problems) {
    MappingLoader loader(file_name);
    Mapping m;
    try {
        m = loader.load(node);
    } catch (const YAML::Exception& e) {
        // A value of a shape the reader did not expect (a key that is a list, ...).
        loader.error_at(e.mark.line, e.mark.column, e.msg);
    }
    for (auto& p : loader.problems()) problems.push_back(std::move(p));
    return m;
}

// Names of metrics and entry kinds are unique in the file: the exporter's
// own series name them.
void check_unique_names(const Mappings& all, const YAML::Node& nodes, YamlReader& reader) {
    std::map<std::string, std::string> metric_of, kind_of;  // name -> mapping
    size_t i = 0;
    for (const auto& kv : nodes) {
        const Mapping& m = all[i++];
        if (const YAML::Node metrics = kv.second["metrics"]; metrics && metrics.IsSequence())
            for (const auto& n : metrics) {
                // A name that is not text is reported by the mapping's own loader.
                const std::string name = n.IsMap() && n["name"].IsScalar() ? n["name"].Scalar() : "";
                if (name.empty()) continue;
                if (auto [it, added] = metric_of.emplace(name, m.name); !added)
                    reader.error(n["name"], fmt::format("metric {} is also defined by mapping {}", name, it->second));
                // A name the metric takes in OpenMetrics, taken by a metric of an earlier mapping.
                const auto spec = std::find_if(m.metrics.begin(), m.metrics.end(),
                                               [&](const MetricSpec& s) { return s.name == name; });
                for (size_t j = 0; j + 1 < i && spec != m.metrics.end(); ++j)
                    for (const auto& other : all[j].metrics)
                        if (other.name != name)
                            if (const auto clash = exposition_clash(*spec, other))
                                reader.error(n["name"],
                                             fmt::format("metric {} and metric {} of mapping {} would both be named "
                                                         "{} in OpenMetrics",
                                                         name, other.name, all[j].name, *clash));
            }
        if (const YAML::Node entries = kv.second["entries"]; entries && entries.IsMap())
            for (const auto& e : entries) {
                if (!e.first.IsScalar()) continue;
                const std::string name = e.first.Scalar();
                if (auto [it, added] = kind_of.emplace(name, m.name); !added)
                    reader.error(e.first, fmt::format("entry kind {} is also one of mapping {} (the exporter's own "
                                                      "series name kinds: each name once in the file)",
                                                      name, it->second));
            }
    }
}

}  // namespace

Mappings load_mappings(std::string_view yaml, const std::string& file_name) {
    const YAML::Node root = parse_yaml(yaml, file_name);
    Mappings all;
    std::vector<std::string> problems;
    YamlReader reader(file_name);
    if (!root.IsMap() || !root["mappings"]) {
        all.push_back(load_one(root, file_name, problems));
    } else
        try {
            const YAML::Node nodes = root["mappings"];
            reader.keys(root, "a file of several mappings", {"mappings"});
            if (!nodes.IsMap() || nodes.size() == 0) {
                reader.error(nodes, "mappings is a map of mapping names to mappings");
            } else if (nodes.size() > 64) {
                reader.error(nodes, "at most 64 mappings in a file");
            } else {
                for (const auto& kv : nodes) {
                    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
                    if (name.empty()) reader.error(kv.first, "a mapping's name is a non-empty text");
                    all.push_back(load_one(kv.second, file_name, problems));
                    all.back().name = name;
                }
                check_unique_names(all, nodes, reader);
            }
        } catch (const YAML::Exception& e) {
            // A value of a shape the reader did not expect.
            reader.error_at(e.mark.line, e.mark.column, e.msg);
        }
    for (auto& p : reader.problems()) problems.push_back(std::move(p));
    if (!problems.empty()) throw ConfigError(std::move(problems));
    return all;
}

Mapping load_mapping(std::string_view yaml, const std::string& file_name) {
    Mappings all = load_mappings(yaml, file_name);
    if (all.size() != 1)
        throw ConfigError({fmt::format("{}: has {} mappings where one is needed", file_name, all.size())});
    return std::move(all.front());
}

Mapping load_mapping_file(const std::string& path) {
    return load_mapping(read_config_file(path), path);
}

Mappings load_mappings_file(const std::string& path) {
    return load_mappings(read_config_file(path), path);
}

std::string_view builtin_mapping_yaml() {
    return kBuiltinMappingYaml;
}

Mapping builtin_mapping() {
    return load_mapping(kBuiltinMappingYaml, "examples/executeparse.yml");
}

}  // namespace ailog
