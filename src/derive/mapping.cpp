// Mapping validation, and the fields a mapping reads after decoding.
#include "ailog/mapping.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace ailog {

std::optional<std::string> Mapping::validate() const {
    const int nfields = static_cast<int>(fields.size());
    const int nkinds = static_cast<int>(kinds.size());
    auto field_ok = [&](int f, FieldType t) {
        // A level is text too.
        return f >= 0 && f < nfields &&
               (fields[f].type == t || (t == FieldType::String && fields[f].type == FieldType::Level));
    };

    if (nfields > 24) return fmt::format("{} fields, at most 24 are supported", nfields);
    if (nkinds == 0 || nkinds > 32) return std::string("between 1 and 32 entry kinds are required");
    if (!field_ok(message_field, FieldType::String)) return std::string("message field must be a string field");
    if (time_field != -1 && !field_ok(time_field, FieldType::Timestamp))
        return std::string("time field must be a timestamp field");
    for (const auto& f : fields) {
        if (f.paths.empty()) return fmt::format("field {} has no path", f.name);
        if ((f.time_format == TimeFormat::Pattern) != !f.time_pattern.empty())
            return fmt::format("field {} has a time pattern without the pattern format, or the reverse", f.name);
        for (const auto& p : f.paths)
            if (p.empty()) return fmt::format("field {} has an empty path", f.name);
    }
    for (const auto& k : kinds) {
        if (k.message.empty() && k.conditions.empty())
            return fmt::format("entry kind {} has neither a message nor a condition", k.name);
        for (const auto& c : k.conditions) {
            if (c.field < 0 || c.field >= nfields)
                return fmt::format("a condition of {} names a missing field", k.name);
            if (c.op != Condition::Op::Exists && !field_ok(c.field, FieldType::String))
                return fmt::format("a condition of {} compares a field that is not a string field", k.name);
            if (c.op == Condition::Op::Matches && c.regex == nullptr)
                return fmt::format("a condition of {} has no compiled pattern", k.name);
            if (c.op != Condition::Op::Exists && c.values.empty())
                return fmt::format("a condition of {} has no value to compare with", k.name);
        }
    }
    for (const auto& c : classifiers) {
        if (!c.values.empty() && !c.ranges.empty())
            return std::string("a classifier has ranges or a value map, not both");
        if (!field_ok(c.field, c.values.empty() ? FieldType::Number : FieldType::String))
            return std::string("a classifier by ranges needs a number field, one by a value map a string field");
    }

    auto labels_ok = [&](const std::vector<LabelSource>& ls) -> std::optional<std::string> {
        for (const auto& l : ls) {
            if (l.default_classifier != -1 &&
                (l.kind != LabelSource::Kind::Field || !l.has_default || l.default_classifier < 0 ||
                 l.default_classifier >= static_cast<int>(classifiers.size())))
                return std::string("a label's default refers to a missing classifier");
            if (l.kind == LabelSource::Kind::Field && !field_ok(l.index, FieldType::String) &&
                !field_ok(l.index, FieldType::Number))
                return std::string("a label takes its value from a field that is not a string or number field");
            for (const auto& r : l.replace)
                if (r.regex == nullptr) return std::string("a label's rewrite has no compiled pattern");
            if (l.kind == LabelSource::Kind::Classified &&
                (l.index < 0 || l.index >= static_cast<int>(classifiers.size())))
                return std::string("a label refers to a missing classifier");
        }
        return std::nullopt;
    };
    for (const auto& metric : metrics) {
        if (metric.label_names.size() > 16) return fmt::format("{} has more than 16 labels", metric.name);
        if (metric.type == MetricType::Histogram && metric.buckets.empty())
            return fmt::format("histogram {} has no buckets", metric.name);
        for (size_t i = 1; i < metric.buckets.size(); ++i)
            if (!(metric.buckets[i - 1] < metric.buckets[i]))
                return fmt::format("histogram {} buckets are not ascending", metric.name);
        for (const auto& rule : metric.rules) {
            if (rule.labels.size() != metric.label_names.size())
                return fmt::format("a rule of {} has {} label values for {} labels", metric.name, rule.labels.size(),
                                   metric.label_names.size());
            if (rule.entries >> nkinds) return fmt::format("a rule of {} names a missing entry kind", metric.name);
            if (auto e = labels_ok(rule.labels)) return fmt::format("{}: {}", metric.name, *e);
            if (rule.value.kind == ValueSource::Kind::Cost) {
                if (metric.type == MetricType::Gauge) return fmt::format("gauge {} cannot add up a cost", metric.name);
                if (rule.value.model_label < 0 || rule.value.model_label >= static_cast<int>(rule.labels.size()))
                    return fmt::format("a cost of {} names no label of the metric for the model", metric.name);
                bool any = false;
                for (int f : rule.value.tokens) {
                    if (f != -1 && !field_ok(f, FieldType::Number))
                        return fmt::format("a cost of {} counts tokens of a field that is not a number", metric.name);
                    any = any || f != -1;
                }
                if (!any) return fmt::format("a cost of {} counts no tokens", metric.name);
            } else if (rule.value.kind != ValueSource::Kind::One && !field_ok(rule.value.field, FieldType::Number)) {
                return fmt::format("a rule of {} takes its value from a field that is not a number", metric.name);
            }
        }
    }
    if (correlation.key_field != -1) {
        if (!field_ok(correlation.key_field, FieldType::String))
            return std::string("the correlation key must be a string field");
        const int g = correlation.in_flight_metric;
        if (g != -1) {
            if (g < 0 || g >= static_cast<int>(metrics.size()) || metrics[g].type != MetricType::Gauge)
                return std::string("the in-flight metric must be a gauge");
            if (correlation.in_flight_labels.size() != metrics[g].label_names.size())
                return std::string("in-flight labels do not match the gauge's label names");
            if (auto e = labels_ok(correlation.in_flight_labels)) return e;
        }
        for (int f : correlation.from_start)
            if (!field_ok(f, FieldType::String))
                return std::string("a field taken from the start must be a string field");
    }
    if (exemplars.field != -1 && !field_ok(exemplars.field, FieldType::String))
        return std::string("exemplars take their id from a field that is not a string field");
    for (const auto& p : prices.models)
        if (!(p.input >= 0 && p.cached_input >= 0 && p.output >= 0))
            return fmt::format("the prices of {} must be 0 or more", p.model);
    return std::nullopt;
}

std::vector<std::string> MetricSpec::exposition_names() const {
    if (type == MetricType::Histogram) return {name, name + "_bucket", name + "_count", name + "_sum"};
    if (type == MetricType::Counter && name.ends_with("_total"))
        return {name.substr(0, name.size() - std::string_view("_total").size()), name};
    return {name};
}

namespace {

// "-2024-08-06" (OpenAI's snapshots) or "-20251101" (Anthropic's).
bool is_date_suffix(std::string_view s) {
    auto digits = [&](size_t from, size_t n) {
        for (size_t i = from; i < from + n; ++i)
            if (s[i] < '0' || s[i] > '9') return false;
        return true;
    };
    if (s.size() == 11)
        return s[0] == '-' && digits(1, 4) && s[5] == '-' && digits(6, 2) && s[8] == '-' && digits(9, 2);
    return s.size() == 9 && s[0] == '-' && digits(1, 8);
}

}  // namespace

const ModelPrice* PriceTable::find(std::string_view model) const {
    for (const auto& p : models)
        if (p.model == model) return &p;
    for (const auto& p : models)
        if (model.size() > p.model.size() && model.starts_with(p.model) && is_date_suffix(model.substr(p.model.size())))
            return &p;
    return nullptr;
}

std::vector<std::pair<int, int>> Mapping::limited_labels() const {
    std::vector<std::pair<int, int>> out;
    auto add = [&](int metric, const std::vector<LabelSource>& labels) {
        for (int l = 0; l < static_cast<int>(labels.size()); ++l)
            if (labels[static_cast<size_t>(l)].max_values > 0 &&
                std::find(out.begin(), out.end(), std::pair(metric, l)) == out.end())
                out.emplace_back(metric, l);
    };
    for (int m = 0; m < static_cast<int>(metrics.size()); ++m) {
        for (const auto& r : metrics[static_cast<size_t>(m)].rules) add(m, r.labels);
        if (m == correlation.in_flight_metric) add(m, correlation.in_flight_labels);
    }
    return out;
}

uint32_t Mapping::derived_fields() const {
    uint32_t used = 0;
    auto field = [&](int f) {
        if (f >= 0) used |= 1u << static_cast<unsigned>(f);
    };
    auto labels = [&](const std::vector<LabelSource>& ls) {
        for (const auto& l : ls) {
            if (l.kind == LabelSource::Kind::Field) field(l.index);
            if (l.default_classifier >= 0) field(classifiers[static_cast<size_t>(l.default_classifier)].field);
            if (l.kind == LabelSource::Kind::Classified) field(classifiers[static_cast<size_t>(l.index)].field);
        }
    };
    for (const auto& m : metrics)
        for (const auto& r : m.rules) {
            labels(r.labels);
            if (r.value.kind == ValueSource::Kind::Cost)
                for (int f : r.value.tokens) field(f);
            else if (r.value.kind != ValueSource::Kind::One)
                field(r.value.field);
        }
    field(exemplars.field);
    field(correlation.key_field);
    labels(correlation.in_flight_labels);
    for (int f : correlation.from_start) field(f);
    return used;
}

}  // namespace ailog
