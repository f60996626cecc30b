// MappingLoader: a mapping file's YAML walked into a Mapping, with every mistake
// collected with its position. Its parts are in mapping_loader.cpp (fields,
// entries, classifiers) and metric_loader.cpp (metrics, labels, correlation,
// summary).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ailog/mapping.hpp"
#include "config/yaml_reader.hpp"

namespace ailog {

// The name two metrics would share in an OpenMetrics exposition, if any
// (a gauge jobs_done and a counter jobs_done_total).
std::optional<std::string> exposition_clash(const MetricSpec& a, const MetricSpec& b);

class MappingLoader : public YamlReader {
public:
    using YamlReader::YamlReader;

    Mapping load(const YAML::Node& root);

private:
    int field_index(const YAML::Node& at, const std::string& name, std::optional<FieldType> type);
    int kind_index(const YAML::Node& at, const std::string& name);
    uint32_t kinds_of(const YAML::Node& node, const char* what);
    std::optional<LabelSource> label_source(const YAML::Node& node);
    void label_hygiene(const YAML::Node& node, LabelSource& l);  // replace, max_values, overflow
    // The value of each of `names` under parent's key labels.
    std::vector<LabelSource> label_values(const YAML::Node& parent, const std::vector<std::string>& names,
                                          const char* what);
    void time_format(const YAML::Node& node, FieldSpec& f);
    void load_fields(const YAML::Node& root);
    void load_entries(const YAML::Node& root);
    std::vector<Condition> conditions(const YAML::Node& node);
    void load_classifiers(const YAML::Node& node);
    void load_metric(const YAML::Node& node);
    ValueSource cost_value(const YAML::Node& value, const MetricSpec& metric);
    void load_prices(const YAML::Node& node);
    void load_exemplars(const YAML::Node& node);
    void load_correlation(const YAML::Node& node);
    void load_summary(const YAML::Node& node);

    Mapping m_;
    bool has_prices_ = false;
    std::map<std::string, int> classifier_names_;
    std::vector<std::pair<YAML::Node, std::vector<std::string>>> required_;  // per field: kinds, resolved later
};

}  // namespace ailog
