// Deriver: events -> metric updates, with start/end correlation.
#include "derive/deriver.hpp"

#include <algorithm>
#include <charconv>

#include <cstring>

namespace ailog {

Deriver::Deriver(const Mapping& mapping, MetricStore& store, CorrelationTable::Limits limits)
    : mapping_(mapping), store_(store), table_(limits), rules_by_kind_(mapping.kinds.size()) {
    bool priced = false;
    for (const auto& m : mapping.metrics) {
        const int family = store.add_family(m.name, m.help, m.type, m.label_names, m.buckets);
        families_.push_back(family);
        store.set_exemplars(family, mapping.exemplars.field >= 0 && m.type != MetricType::Gauge
                                        ? mapping.exemplars.label
                                        : std::string());
        for (const auto& rule : m.rules) priced = priced || rule.value.kind == ValueSource::Kind::Cost;
    }
    if (priced)
        unpriced_family_ = store.add_family("ailog_exporter_unpriced_entries_total",
                                            "Entries whose tokens were not priced: the price table has no price for "
                                            "their model, by metric and model",
                                            MetricType::Counter, {"metric", "model"});
    limited_ = mapping.limited_labels();
    for (const auto& [metric, label] : limited_) {
        // The limit of the first source that sets one.
        const LabelSource* limit = nullptr;
        const MetricSpec& spec = mapping.metrics[static_cast<size_t>(metric)];
        for (const auto& rule : spec.rules)
            if (!limit && rule.labels[static_cast<size_t>(label)].max_values > 0)
                limit = &rule.labels[static_cast<size_t>(label)];
        if (!limit) limit = &mapping.correlation.in_flight_labels[static_cast<size_t>(label)];
        limits_.emplace_back(limit->max_values, limit->overflow);
    }
    for (int mi = 0; mi < static_cast<int>(mapping.metrics.size()); ++mi) {
        for (const auto& rule : mapping.metrics[static_cast<size_t>(mi)].rules)
            for (int k = 0; k < static_cast<int>(mapping.kinds.size()); ++k)
                if (rule.entries & kind_bit(k))
                    rules_by_kind_[static_cast<size_t>(k)].push_back(
                        {mi, &rule, std::make_unique<SeriesCache>(), limits_of(mi, rule.labels)});
    }
    in_flight_limit_of_ = limits_of(mapping.correlation.in_flight_metric, mapping.correlation.in_flight_labels);
    stats_.entries.assign(mapping.kinds.size(), 0);
    stats_.unmatched.assign(mapping.kinds.size(), 0);
    stats_.label_overflows.assign(limited_.size(), 0);
}

std::vector<int> Deriver::limits_of(int metric, const std::vector<LabelSource>& sources) const {
    std::vector<int> out(sources.size(), -1);
    // Every source of a limited label is limited, whichever sets the limit.
    for (size_t l = 0; l < sources.size(); ++l) {
        const auto it = std::find(limited_.begin(), limited_.end(), std::pair(metric, static_cast<int>(l)));
        if (it != limited_.end() && sources[l].kind == LabelSource::Kind::Field)
            out[l] = static_cast<int>(it - limited_.begin());
    }
    return out;
}

std::string_view Deriver::classify(const Classifier& c, const Event& ev) const {
    const FieldValue& v = ev.fields[static_cast<size_t>(c.field)];
    if (!v.present) return c.missing;
    if (!c.values.empty()) {
        for (const auto& [from, to] : c.values)
            if (v.str == from) return to;
        return c.otherwise;
    }
    for (const auto& r : c.ranges)
        if (v.num >= r.low && v.num <= r.high) return r.value;
    return c.otherwise;
}

bool Deriver::cost(const ValueSource& v, const MetricSpec& metric, const Event& ev, double& value) {
    double tokens[3] = {0, 0, 0};  // input (cached included), cached input, output
    for (size_t i = 0; i < 3; ++i)
        if (v.tokens[i] >= 0)
            if (const FieldValue& f = ev.fields[static_cast<size_t>(v.tokens[i])]; f.present) tokens[i] = f.num;
    const bool has_input = v.tokens[0] >= 0 && ev.fields[static_cast<size_t>(v.tokens[0])].present;
    const std::string_view model = labels_[static_cast<size_t>(v.model_label)];
    const ModelPrice* price = mapping_.prices.find(model);
    if (price == nullptr) {
        if (Series* s = store_.get(unpriced_family_, {metric.name, model})) MetricStore::add(*s, 1);
        return false;
    }
    // Input tokens include the cached ones (as OpenAI's usage counts them).
    const double cached = has_input ? std::min(tokens[1], tokens[0]) : tokens[1];
    const double uncached = has_input ? tokens[0] - cached : 0;
    value = uncached * price->input + cached * price->cached_input + tokens[2] * price->output;
    return true;
}

bool Deriver::resolve_labels(const std::vector<LabelSource>& sources, const std::vector<int>& limit_of, const Event& ev,
                             int kind) {
    nlabels_ = sources.size();
    for (size_t i = 0; i < sources.size(); ++i) {
        const LabelSource& s = sources[i];
        switch (s.kind) {
            case LabelSource::Kind::Constant:
                labels_[i] = s.constant;
                break;
            case LabelSource::Kind::Outcome:
                labels_[i] = mapping_.kinds[static_cast<size_t>(kind)].outcome;
                break;
            case LabelSource::Kind::Classified:
                labels_[i] = classify(mapping_.classifiers[static_cast<size_t>(s.index)], ev);
                break;
            case LabelSource::Kind::Field: {
                const FieldValue& v = ev.fields[static_cast<size_t>(s.index)];
                if (!v.present) {
                    if (!s.has_default) return false;
                    labels_[i] = s.default_classifier >= 0
                                     ? classify(mapping_.classifiers[static_cast<size_t>(s.default_classifier)], ev)
                                     : std::string_view(s.constant);
                    break;
                }
                std::string_view value = v.str;
                if (mapping_.fields[static_cast<size_t>(s.index)].type == FieldType::Number) {
                    // A number as label text: 200, 0.5, 1e+21.
                    char buf[32];
                    const auto end = std::to_chars(buf, buf + sizeof buf, v.num).ptr;
                    rewritten_[i].assign(buf, end);
                    value = rewritten_[i];
                }
                for (const LabelRewrite& r : s.replace) {
                    replace_all(*r.regex, value, r.with, rewrite_scratch_);
                    rewritten_[i].swap(rewrite_scratch_);
                    value = rewritten_[i];
                }
                if (limit_of[i] >= 0) {
                    const auto li = static_cast<size_t>(limit_of[i]);
                    LabelLimit& limit = limits_[li];
                    if (!limit.seeded) {
                        // The values its series already have count: before the first line, the
                        // store holds what a state file or the previous mapping left.
                        limit.seeded = true;
                        const auto [metric, label] = limited_[li];
                        const auto& family =
                            *store_.families()[static_cast<size_t>(families_[static_cast<size_t>(metric)])];
                        for (const auto& s : family.series) limit.seed(s->label_values[static_cast<size_t>(label)]);
                    }
                    value = limit.admit(value, stats_.label_overflows[li]);
                }
                labels_[i] = value;
                break;
            }
        }
    }
    return true;
}

Series* Deriver::series_for(int family, SeriesCache& cache) {
    const SeriesCache::Labels labels(labels_.data(), nlabels_);
    const uint64_t h = SeriesCache::hash(labels);
    if (Series* s = cache.find(labels, h)) return s;
    Series* s = store_.get(family, labels);
    if (s != nullptr) cache.put(labels, h, s);  // a dropped series is looked up (and counted) each time
    return s;
}

uint32_t Deriver::in_flight_slot(Series* s) {
    // In-flight series are few and stable: a linear search is enough.
    auto it = std::find(in_flight_series_.begin(), in_flight_series_.end(), s);
    if (it == in_flight_series_.end()) it = in_flight_series_.insert(it, s);
    return static_cast<uint32_t>(it - in_flight_series_.begin()) + 1;
}

uint32_t Deriver::keep_from_start(const Event& ev) {
    const auto& fields = mapping_.correlation.from_start;
    if (fields.empty()) return 0;
    uint32_t slot;
    if (!carry_free_.empty()) {
        slot = carry_free_.back();
        carry_free_.pop_back();
    } else {
        carry_pool_.emplace_back();
        slot = static_cast<uint32_t>(carry_pool_.size());
    }
    std::string& out = carry_pool_[slot - 1];
    out.clear();
    for (int f : fields) {
        const FieldValue& v = ev.fields[static_cast<size_t>(f)];
        out.push_back(v.present ? 1 : 0);
        if (!v.present) continue;
        const auto size = static_cast<uint32_t>(v.str.size());
        out.append(reinterpret_cast<const char*>(&size), sizeof size);
        out.append(v.str);
    }
    return slot;
}

template <class F>
void Deriver::for_each_kept(uint32_t carry, F&& f) const {
    const std::string& in = carry_pool_[carry - 1];
    size_t pos = 0;
    for (int field : mapping_.correlation.from_start) {
        if (in[pos++] == 0) continue;  // absent from the start
        uint32_t size = 0;
        std::memcpy(&size, in.data() + pos, sizeof size);
        pos += sizeof size;
        f(field, std::string_view(in.data() + pos, size));
        pos += size;
    }
}

const Event& Deriver::with_start_values(const Event& ev, uint32_t carry) {
    if (carry == 0) return ev;
    carried_event_ = ev;
    for_each_kept(carry, [this](int field, std::string_view value) {
        FieldValue& v = carried_event_.fields[static_cast<size_t>(field)];
        if (!v.present) {
            v.str = value;
            v.present = true;
        }
    });
    return carried_event_;
}

void Deriver::release_carry(uint32_t carry) {
    if (carry != 0) carry_free_.push_back(carry);
}

Deriver::Carried Deriver::carried(uint32_t carry) const {
    Carried out;
    if (carry == 0) return out;
    for_each_kept(carry, [&](int field, std::string_view value) {
        out.emplace_back(mapping_.fields[static_cast<size_t>(field)].name, value);
    });
    return out;
}

void Deriver::release_in_flight(const CorrelationTable::Entry& e) {
    if (e.payload == 0) return;
    Series* s = in_flight_series_[e.payload - 1];
    MetricStore::add(*s, -1);
}

void Deriver::evicted(const CorrelationTable::Entry& e, EvictReason r) {
    release_in_flight(e);
    release_carry(e.carry);
    if (counting_) ++stats_.evicted[static_cast<size_t>(r)];
}

uint32_t Deriver::open_input(std::string_view name) {
    std::string key(name);
    if (auto it = input_by_name_.find(key); it != input_by_name_.end()) {
        ++inputs_[it->second].users;
        return it->second;
    }
    release_closed_inputs();
    uint32_t id = 0;
    while (id < inputs_.size() && inputs_[id].in_use) ++id;
    if (id == inputs_.size()) inputs_.emplace_back();
    Input& in = inputs_[id];
    in = Input{key, hash_key(key), {}, 1, true};
    input_by_name_.emplace(std::move(key), id);
    return id;
}

void Deriver::close_input(uint32_t input) {
    Input& in = inputs_[input];
    if (in.users > 0 && --in.users == 0 &&
        std::find(closed_inputs_.begin(), closed_inputs_.end(), input) == closed_inputs_.end())
        closed_inputs_.push_back(input);
}

// An input with no user is forgotten once its last open start is gone (its
// number may then be reused; its starts would otherwise age on a new clock).
void Deriver::release_closed_inputs() {
    std::erase_if(closed_inputs_, [this](uint32_t id) {
        Input& in = inputs_[id];
        if (in.users > 0) return true;  // opened again
        if (!table_.input_empty(id)) return false;
        input_by_name_.erase(in.name);
        in = Input{};
        return true;
    });
}

void Deriver::apply(const Event& ev, uint32_t input, double time_ms, double read_ms) {
    const int kind = ev.kind;
    const EntryKind& ek = mapping_.kinds[static_cast<size_t>(kind)];
    if (counting_) ++stats_.entries[static_cast<size_t>(kind)];

    const CorrelationSpec& corr = mapping_.correlation;
    const FieldValue* key = corr.key_field >= 0 ? &ev.fields[static_cast<size_t>(corr.key_field)] : nullptr;
    const bool keyed = key != nullptr && key->present;

    // Ages on the input's own clock, then on the reading clock. An entry
    // timestamped when it was read tells nothing of the input's clock.
    const bool log_time = !ev.arrival_time;
    if (log_time)
        table_.expire_input(input, inputs_[input].clock.advance(time_ms),
                            [this](const CorrelationTable::Entry& e, EvictReason r) { evicted(e, r); });
    expire_read(read_ms);

    bool correlated = false;
    double correlated_ms = 0;
    uint32_t carry = 0;  // the start's values, released once the rules are applied
    if (ek.role == EntryRole::Start) {
        if (keyed) {
            uint32_t payload = 0;
            if (corr.in_flight_metric >= 0 && resolve_labels(corr.in_flight_labels, in_flight_limit_of_, ev, kind)) {
                const int family = families_[static_cast<size_t>(corr.in_flight_metric)];
                if (Series* s = series_for(family, in_flight_cache_)) {
                    payload = in_flight_slot(s);
                    MetricStore::add(*s, 1);
                }
            }
            table_.insert({input_key(inputs_[input].hash, hash_key(key->str)), time_ms, read_ms, payload,
                           keep_from_start(ev), input, log_time},
                          [this](const CorrelationTable::Entry& e, EvictReason r) { evicted(e, r); });
        }
    } else {
        CorrelationTable::Entry start;
        if (keyed && table_.take(input_key(inputs_[input].hash, hash_key(key->str)), start)) {
            release_in_flight(start);
            carry = start.carry;
            // A duration needs both times on one clock.
            correlated_ms = time_ms - start.start_ms;
            correlated = start.log_time == log_time;
        } else if (counting_) {
            ++stats_.unmatched[static_cast<size_t>(kind)];
        }
    }
    if (!counting_) {
        release_carry(carry);
        return;
    }

    const Event& e = with_start_values(ev, carry);
    const FieldValue* exemplar_id =
        mapping_.exemplars.field >= 0 ? &e.fields[static_cast<size_t>(mapping_.exemplars.field)] : nullptr;
    for (const CompiledRule& cr : rules_by_kind_[static_cast<size_t>(kind)]) {
        const Rule& rule = *cr.rule;
        const MetricSpec& metric = mapping_.metrics[static_cast<size_t>(cr.metric)];
        double value = 1;
        switch (rule.value.kind) {
            case ValueSource::Kind::One:
                break;
            case ValueSource::Kind::Field: {
                const FieldValue& v = e.fields[static_cast<size_t>(rule.value.field)];
                if (!v.present) continue;
                value = v.num * rule.value.factor;
                break;
            }
            case ValueSource::Kind::FieldOrCorrelated: {
                const FieldValue& v = e.fields[static_cast<size_t>(rule.value.field)];
                if (v.present) {
                    value = v.num;
                } else if (correlated) {
                    if (correlated_ms < 0) {
                        ++stats_.negative_durations;
                        continue;
                    }
                    value = correlated_ms;
                } else {
                    continue;
                }
                value *= rule.value.factor;
                break;
            }
            case ValueSource::Kind::Cost: {
                bool any = false;
                for (int f : rule.value.tokens) any = any || (f >= 0 && e.fields[static_cast<size_t>(f)].present);
                if (!any) continue;  // no usage logged: nothing to price
                break;
            }
        }
        if (!resolve_labels(rule.labels, cr.limit_of, e, kind)) continue;
        if (rule.value.kind == ValueSource::Kind::Cost && !cost(rule.value, metric, e, value)) continue;
        const int family = families_[static_cast<size_t>(cr.metric)];
        Series* s = series_for(family, *cr.cache);
        if (s == nullptr) continue;
        size_t slot = 0;
        if (metric.type == MetricType::Histogram)
            slot = store_.observe(family, *s, value);
        else if (rule.op == GaugeOp::Set)
            MetricStore::set(*s, value);
        else
            MetricStore::add(*s, rule.op == GaugeOp::Dec ? -value : value);
        // The store gives a series exemplar slots when its family keeps them.
        if (exemplar_id != nullptr && exemplar_id->present && s->exemplars)
            s->exemplars[slot].record(exemplar_id->str, value, time_ms / 1000.0);
    }
    release_carry(carry);
}

void Deriver::restore_open_start(const KeyHash& key, double start_ms, std::string_view input_name, double read_ms,
                                 const std::vector<std::string>* in_flight_labels, const Carried& carried) {
    // Held as an input without a user until a source of that name opens.
    const uint32_t input = open_input(input_name);
    close_input(input);
    uint32_t payload = 0;
    const int metric = mapping_.correlation.in_flight_metric;
    if (in_flight_labels != nullptr && metric >= 0) {
        std::vector<std::string_view> views(in_flight_labels->begin(), in_flight_labels->end());
        if (Series* s = store_.get(families_[static_cast<size_t>(metric)], views)) payload = in_flight_slot(s);
    }
    table_.insert({key, start_ms, read_ms, payload, keep_carried(carried), input},
                  [this](const CorrelationTable::Entry& e, EvictReason r) { evicted(e, r); });
}

uint32_t Deriver::keep_carried(const Carried& carried) {
    // A field the mapping no longer takes from the start is left out.
    if (mapping_.correlation.from_start.empty()) return 0;
    Event ev;
    for (int f : mapping_.correlation.from_start)
        for (const auto& [name, value] : carried)
            if (mapping_.fields[static_cast<size_t>(f)].name == name) {
                ev.fields[static_cast<size_t>(f)].str = value;
                ev.fields[static_cast<size_t>(f)].present = true;
            }
    return keep_from_start(ev);
}

void Deriver::adopt_open_starts(const Deriver& old, bool same_in_flight) {
    // The input of `name` here (held without a user if no source has it open).
    auto input_of = [this](const std::string& name) {
        if (auto it = input_by_name_.find(name); it != input_by_name_.end()) return it->second;
        const uint32_t id = open_input(name);
        close_input(id);
        return id;
    };
    for (const Input& in : old.inputs_)
        if (in.in_use) inputs_[input_of(in.name)].clock = in.clock;
    old.table_.for_each([&](const CorrelationTable::Entry& e) {
        CorrelationTable::Entry n = e;
        n.input = input_of(old.inputs_[e.input].name);
        n.payload = same_in_flight && e.payload ? in_flight_slot(old.in_flight_series_[e.payload - 1]) : 0;
        n.carry = keep_carried(old.carried(e.carry));
        table_.insert(n, [this](const CorrelationTable::Entry& x, EvictReason r) { evicted(x, r); });
    });
}

void Deriver::expire_read(double read_now_ms) {
    table_.expire_read(read_now_ms, [this](const CorrelationTable::Entry& e, EvictReason r) { evicted(e, r); });
}

}  // namespace ailog
