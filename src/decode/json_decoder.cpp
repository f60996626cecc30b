// JsonDecoder: mapping-driven field extraction with simdjson on-demand.
#include "decode/json_decoder.hpp"

#include <algorithm>
#include <cstring>

#include "decode/timestamp.hpp"

namespace ailog {

using simdjson::error_code;
namespace od = simdjson::ondemand;

namespace {

// pino's and bunyan's numeric levels by name; "" for other numbers.
std::string_view level_name(double level) {
    static constexpr std::string_view kNames[] = {"trace", "debug", "info", "warn", "error", "fatal"};
    const double step = level / 10;
    if (step >= 1 && step <= 6 && step == static_cast<int>(step)) return kNames[static_cast<int>(step) - 1];
    return {};
}

}  // namespace

JsonDecoder::JsonDecoder(const Mapping& mapping, std::shared_ptr<const TimeZone> zone)
    : mapping_(mapping), used_in_(mapping.fields.size(), 0), local_time_(std::move(zone)) {
    nodes_.push_back(Node{});  // root
    for (int f = 0; f < static_cast<int>(mapping.fields.size()); ++f) {
        const auto& spec = mapping.fields[static_cast<size_t>(f)];
        for (int alt = 0; alt < static_cast<int>(spec.paths.size()); ++alt) {
            int node = 0;
            for (const auto& key : spec.paths[static_cast<size_t>(alt)]) {
                nodes_[static_cast<size_t>(node)].subtree_fields |= 1u << f;
                int next = -1;
                for (int c : nodes_[static_cast<size_t>(node)].children)
                    if (nodes_[static_cast<size_t>(c)].key == key) next = c;
                if (next < 0) {
                    next = static_cast<int>(nodes_.size());
                    Node child{};
                    child.key = key;
                    nodes_.push_back(std::move(child));
                    nodes_[static_cast<size_t>(node)].children.push_back(next);
                }
                node = next;
            }
            Node& leaf = nodes_[static_cast<size_t>(node)];
            leaf.subtree_fields |= 1u << f;
            leaf.field = f;
            leaf.alt = alt;
        }
        used_in_[static_cast<size_t>(f)] = spec.required_in;
    }
    for (auto& node : nodes_) {
        node.by_first.fill(-1);
        // Chained in reverse so that the first child comes first.
        for (auto c = node.children.rbegin(); c != node.children.rend(); ++c) {
            Node& child = nodes_[static_cast<size_t>(*c)];
            // Raw keys are compared: one that needs escaping never matches.
            if (child.key.find_first_of("\"\\") != std::string::npos) continue;
            const auto first = static_cast<unsigned char>(child.key.empty() ? '"' : child.key[0]);
            child.same_first = node.by_first[first];
            node.by_first[first] = static_cast<int16_t>(*c);
        }
    }
    // A regular expression's verdict on recent values is remembered: a log
    // repeats its messages and levels.
    for (const auto& kind : mapping.kinds) {
        memo_of_.emplace_back();
        for (const auto& c : kind.conditions) {
            memo_of_.back().push_back(c.op == Condition::Op::Matches ? static_cast<int>(memos_.size()) : -1);
            if (c.op == Condition::Op::Matches) memos_.emplace_back();
        }
    }
    // A field is read by a kind when one of that kind's rules uses it.
    auto use = [&](int field, uint32_t kinds) {
        if (field >= 0) used_in_[static_cast<size_t>(field)] |= kinds;
    };
    const uint32_t all = (mapping.kinds.size() >= 32) ? ~0u : ((1u << mapping.kinds.size()) - 1);
    use(mapping.message_field, all);
    use(mapping.time_field, all);
    use(mapping.correlation.key_field, all);
    for (int f : mapping.correlation.from_start) use(f, all);
    for (const auto& l : mapping.correlation.in_flight_labels)
        if (l.kind == LabelSource::Kind::Field) use(l.index, all);
    for (const auto& metric : mapping.metrics) {
        for (const auto& rule : metric.rules) {
            for (const auto& l : rule.labels) {
                if (l.kind == LabelSource::Kind::Field) use(l.index, rule.entries);
                if (l.kind == LabelSource::Kind::Classified)
                    use(mapping.classifiers[static_cast<size_t>(l.index)].field, rule.entries);
            }
            if (rule.value.kind != ValueSource::Kind::One) use(rule.value.field, rule.entries);
        }
    }
}

error_code JsonDecoder::read_leaf(od::value& v, const Node& leaf) {
    const int f = leaf.field;
    const FieldSpec& spec = mapping_.fields[static_cast<size_t>(f)];
    FieldValue& out = ev_->fields[static_cast<size_t>(f)];
    const bool is_message = f == mapping_.message_field;
    // An earlier alternative wins, whatever the key order.
    if (!is_message && out.present && alt_of_[f] < leaf.alt) return simdjson::SUCCESS;

    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t == od::json_type::null) return simdjson::SUCCESS;  // null: absent

    switch (spec.type) {
        case FieldType::String: {
            if (t != od::json_type::string) {
                wrong_type_ |= 1u << f;
                return simdjson::SUCCESS;
            }
            std::string_view sv;
            if (auto e = v.get_string().get(sv)) return e;
            if (is_message) {
                if (leaf.alt < kMaxMessageAlts) message_alts_[leaf.alt] = sv;
                if (out.present && alt_of_[f] < leaf.alt) return simdjson::SUCCESS;
            }
            out.str = sv;
            break;
        }
        case FieldType::Number: {
            if (t != od::json_type::number) {
                wrong_type_ |= 1u << f;
                return simdjson::SUCCESS;
            }
            double d;
            if (auto e = v.get_double().get(d)) return e;
            if (spec.non_negative && d < 0) invalid_value_ |= 1u << f;
            out.num = d;
            break;
        }
        case FieldType::Level: {
            if (t == od::json_type::string) {
                if (auto e = v.get_string().get(out.str)) return e;
                break;
            }
            double d;
            if (t != od::json_type::number || v.get_double().get(d) || (out.str = level_name(d)).empty()) {
                wrong_type_ |= 1u << f;
                return simdjson::SUCCESS;
            }
            break;
        }
        case FieldType::Timestamp: {
            ParsedTime parsed;
            const TimeFormat format = spec.time_format;
            if (t == od::json_type::number && format != TimeFormat::Rfc3339 && format != TimeFormat::Pattern) {
                double d;
                if (auto e = v.get_double().get(d)) return e;
                parsed = epoch_time(d, format);
            } else if (t == od::json_type::string) {
                std::string_view sv;
                if (auto e = v.get_string().get(sv)) return e;
                if (format == TimeFormat::Auto || format == TimeFormat::Rfc3339)
                    parsed = parse_iso8601(sv, &local_time_);
                else if (format == TimeFormat::Pattern)
                    parsed = parse_time_pattern(sv, spec.time_pattern, &local_time_);
                else
                    parsed = epoch_text(sv, format);
            } else if (t == od::json_type::number) {
                parsed.error = TimeError::Malformed;  // a number where the format wants text
            } else {
                wrong_type_ |= 1u << f;
                return simdjson::SUCCESS;
            }
            const bool is_time = f == mapping_.time_field;
            if (parsed.error != TimeError::None) {
                // Unusable: as if absent, and remembered as the reason.
                if (is_time) time_error_ = parsed.error;
                return simdjson::SUCCESS;
            }
            if (is_time) ev_->fold_ms = parsed.fold_ms;
            out.num = parsed.ms;
            break;
        }
    }
    out.present = true;
    alt_of_[f] = leaf.alt;
    return simdjson::SUCCESS;
}

error_code JsonDecoder::walk(od::object& obj, int node_index) {
    const Node& node = nodes_[static_cast<size_t>(node_index)];
    // Fields and values are used where they are, by reference: copying
    // simdjson's iterators costs more than reading most values.
    for (auto field_result : obj) {
        if (auto e = field_result.error()) return e;
        od::field& field = field_result.value_unsafe();
        // The raw key, which ends at a quote (stage 1 checked there is one,
        // and a value follows it, so reading a mapped key's length and one
        // byte more stays inside the document). An escaped key never equals
        // a mapped one, which is fine.
        const char* k = field.key().raw();
        int child = node.by_first[static_cast<unsigned char>(k[0])];
        while (child >= 0) {
            const Node& candidate = nodes_[static_cast<size_t>(child)];
            const size_t len = candidate.key.size();
            if (k + len < end_ && k[len] == '"' && std::memcmp(candidate.key.data(), k, len) == 0) break;
            child = candidate.same_first;
        }
        if (child < 0) continue;  // the iterator skips the value
        const Node& cn = nodes_[static_cast<size_t>(child)];
        od::value& v = field.value();
        if (cn.field >= 0) {
            if (auto e = read_leaf(v, cn)) return e;
            continue;
        }
        od::json_type t;
        if (auto e = v.type().get(t)) return e;
        if (t == od::json_type::null) continue;
        if (t != od::json_type::object) {
            wrong_type_ |= cn.subtree_fields;
            continue;
        }
        od::object sub;
        if (auto e = v.get_object().get(sub)) return e;
        if (auto e = walk(sub, child)) return e;
    }
    return simdjson::SUCCESS;
}

namespace {

// Length of the first balanced JSON object at the start of `s` (which starts
// with '{'), or 0 if it does not close.
size_t first_object_length(std::string_view s) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[')
            ++depth;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
    }
    return 0;
}

}  // namespace

std::optional<SkipReason> JsonDecoder::classify_broken(std::string_view payload, size_t capacity, Event& ev) {
    // An object followed by more bytes makes simdjson fail part-way through
    // for some of those bytes; tell that apart from a broken object.
    const size_t start = payload.find('{');
    const size_t len = first_object_length(payload.substr(start));
    if (len == 0 || payload.find_first_not_of(" \t", start + len) == std::string_view::npos)
        return SkipReason::InvalidJson;
    const auto prefix = decode(payload.substr(0, start + len), capacity, ev);
    if (prefix == SkipReason::InvalidJson || prefix == SkipReason::InvalidUtf8) return prefix;
    return SkipReason::TrailingContent;
}

namespace {
SkipReason json_error_reason(error_code e) {
    return e == simdjson::UTF8_ERROR ? SkipReason::InvalidUtf8 : SkipReason::InvalidJson;
}
bool is_json_scalar_start(char c) {
    return c == '"' || c == '-' || (c >= '0' && c <= '9');
}
}  // namespace

std::optional<SkipReason> JsonDecoder::classify_non_object(std::string_view payload, size_t capacity, char first) {
    std::string_view trimmed = payload;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) trimmed.remove_suffix(1);
    if (trimmed == "true" || trimmed == "false" || trimmed == "null") return SkipReason::NotObject;
    if (first != '[' && !is_json_scalar_start(first)) return SkipReason::NotJson;

    od::document doc;
    if (auto e = parser_.iterate(simdjson::padded_string_view(payload.data(), payload.size(), capacity)).get(doc))
        return first == '[' ? json_error_reason(e) : SkipReason::NotJson;
    bool ok;
    if (first == '[') {
        od::array arr;
        ok = !doc.get_array().get(arr);
        if (ok)
            for (auto element : arr) {
                // Unread elements are skipped; a malformed one ends the array.
                if (element.error()) {
                    ok = false;
                    break;
                }
            }
    } else if (first == '"') {
        std::string_view sv;
        ok = !doc.get_string().get(sv);
    } else {
        double d;
        ok = !doc.get_double().get(d);
    }
    if (ok && doc.current_location().error() == simdjson::OUT_OF_BOUNDS) return SkipReason::NotObject;
    // A line that starts like a number but is not one is text ("2025-06-01 …").
    return first == '[' ? SkipReason::InvalidJson : SkipReason::NotJson;
}

std::optional<SkipReason> JsonDecoder::decode(std::string_view payload, size_t capacity, Event& ev) {
    // A UTF-8 byte order mark is not part of the entry.
    if (payload.size() >= 3 && payload.compare(0, 3, "\xEF\xBB\xBF") == 0) {
        payload.remove_prefix(3);
        capacity -= 3;
    }
    size_t i = 0;
    while (i < payload.size() && (payload[i] == ' ' || payload[i] == '\t')) ++i;
    if (i == payload.size()) return SkipReason::Empty;
    if (payload[i] != '{') return classify_non_object(payload, capacity, payload[i]);

    const size_t nfields = mapping_.fields.size();
    for (size_t f = 0; f < nfields; ++f) ev.fields[f].present = false;
    for (auto& m : message_alts_) m = {};
    ev_ = &ev;
    end_ = payload.data() + capacity;
    wrong_type_ = 0;
    invalid_value_ = 0;
    time_error_ = TimeError::None;
    ev.fold_ms = 0;
    ev.arrival_time = false;

    od::document doc;
    if (auto e = parser_.iterate(simdjson::padded_string_view(payload.data(), payload.size(), capacity)).get(doc))
        return json_error_reason(e);
    od::object root;
    auto e = doc.get_object().get(root);
    if (!e) e = walk(root, 0);
    if (e == simdjson::UTF8_ERROR) return SkipReason::InvalidUtf8;
    if (e) return classify_broken(payload, capacity, ev);
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return SkipReason::TrailingContent;

    const int kind = match_kind();
    if (kind < 0) return SkipReason::NotMatched;
    const uint32_t bit = kind_bit(kind);
    for (size_t f = 0; f < nfields; ++f) {
        if (!(used_in_[f] & bit)) continue;
        if (wrong_type_ & (1u << f)) return SkipReason::WrongType;
    }
    for (size_t f = 0; f < nfields; ++f) {
        if ((mapping_.fields[f].required_in & bit) && !ev.fields[f].present) return SkipReason::MissingField;
        if ((used_in_[f] & bit) && (invalid_value_ & (1u << f))) return SkipReason::InvalidValue;
    }
    ev.kind = kind;
    if (mapping_.time_field >= 0 && ev.fields[static_cast<size_t>(mapping_.time_field)].present) {
        ev.time_ms = ev.fields[static_cast<size_t>(mapping_.time_field)].num;
        ev.has_time = true;
        ev.time_error = 0;
    } else {
        ev.has_time = false;
        ev.time_error = static_cast<uint8_t>(time_error_);
    }
    return std::nullopt;
}

}  // namespace ailog
