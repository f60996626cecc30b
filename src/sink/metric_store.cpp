// MetricStore: series creation and the Prometheus text exposition.
#include "ailog/metric_store.hpp"

#include <fmt/format.h>

#include <cmath>

namespace ailog {
namespace {

constexpr char kKeySeparator = '\xff';  // never part of valid UTF-8

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_sequence(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    return n;
}

std::string format_bound(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
}

void append_value(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
}

// OpenMetrics escapes a quote in help text too; text 0.0.4 does not.
void append_help(std::string& out, std::string_view help, Exposition format) {
    for (char c : help) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && format == Exposition::OpenMetrics)
            out += "\\\"";
        else
            out += c;
    }
}

size_t exemplar_slots(const MetricStore::Family& f) {
    if (f.exemplar_label.empty()) return 0;
    if (f.type == MetricType::Histogram) return f.buckets.size() + 1;
    return f.type == MetricType::Counter ? 1 : 0;
}

// ` # {label="id"} value timestamp` when the slot has an exemplar.
void append_exemplar(std::string& out, const std::string& label, const Exemplar& e, std::string& id) {
    double value = 0, time_s = 0;
    if (!e.read(id, value, time_s)) return;
    out += " # {";
    out += label;
    out += "=\"";
    append_escaped_label_value(out, id);
    out += "\"} ";
    append_value(out, value);
    out += ' ';
    append_value(out, time_s);
}

const char* type_name(MetricType t) {
    switch (t) {
        case MetricType::Counter:
            return "counter";
        case MetricType::Gauge:
            return "gauge";
        case MetricType::Histogram:
            return "histogram";
    }
    return "untyped";
}

}  // namespace

void append_escaped_label_value(std::string& out, std::string_view v) {
    for (size_t i = 0; i < v.size();) {
        const char c = v[i];
        if (c == '\\') {
            out += "\\\\";
            ++i;
        } else if (c == '"') {
            out += "\\\"";
            ++i;
        } else if (c == '\n') {
            out += "\\n";
            ++i;
        } else if (const size_t n = utf8_sequence(v, i); n > 0) {
            out.append(v.data() + i, n);
            i += n;
        } else {
            out += "\xEF\xBF\xBD";  // U+FFFD
            ++i;
        }
    }
}

int MetricStore::add_family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                            std::vector<double> buckets, bool limited) {
    if (const int existing = find_family(name); existing >= 0) {
        Family& f = *families_[static_cast<size_t>(existing)];
        if (f.type != type || f.label_names != label_names || f.buckets != buckets || f.limited != limited) {
            clear_family(existing);
            auto lock = this->lock();
            f.type = type;
            f.label_names = std::move(label_names);
            f.buckets = std::move(buckets);
            f.bucket_text.clear();
            for (double b : f.buckets) f.bucket_text.push_back(format_bound(b));
            f.bucket_text.push_back("+Inf");
            f.limited = limited;
        }
        if (f.help != help) {
            auto lock = this->lock();
            f.help = std::move(help);
        }
        return existing;
    }
    auto f = std::make_unique<Family>();
    f->name = std::move(name);
    f->help = std::move(help);
    f->type = type;
    f->label_names = std::move(label_names);
    f->buckets = std::move(buckets);
    for (double b : f->buckets) f->bucket_text.push_back(format_bound(b));
    f->bucket_text.push_back("+Inf");
    f->limited = limited;
    auto lock = this->lock();
    families_.push_back(std::move(f));
    return static_cast<int>(families_.size() - 1);
}

int MetricStore::find_family(std::string_view name) const {
    for (size_t i = 0; i < families_.size(); ++i)
        if (families_[i]->name == name) return static_cast<int>(i);
    return -1;
}

Series* MetricStore::get(int family, std::span<const std::string_view> label_values) {
    Family& f = *families_[static_cast<size_t>(family)];
    key_.clear();
    for (auto v : label_values) {
        key_.append(v);
        key_ += kKeySeparator;
    }
    if (auto it = f.index.find(std::string_view(key_)); it != f.index.end()) return it->second;

    if (f.limited) {
        if (limited_series_.load(std::memory_order_relaxed) >= max_series_) {
            f.dropped.fetch_add(1, std::memory_order_relaxed);
            return nullptr;
        }
        limited_series_.fetch_add(1, std::memory_order_relaxed);
    }
    auto s = std::make_unique<Series>();
    s->labels_text = constant_labels_;
    for (size_t i = 0; i < label_values.size(); ++i) {
        s->label_values.emplace_back(label_values[i]);
        if (!s->labels_text.empty()) s->labels_text += ',';
        s->labels_text += f.label_names[i];
        s->labels_text += "=\"";
        append_escaped_label_value(s->labels_text, label_values[i]);
        s->labels_text += '"';
    }
    if (f.type == MetricType::Histogram) {
        const size_t n = f.buckets.size() + 1;
        s->buckets = std::make_unique<std::atomic<uint64_t>[]>(n);
        for (size_t i = 0; i < n; ++i) s->buckets[i].store(0, std::memory_order_relaxed);
    }
    if (const size_t n = exemplar_slots(f); n > 0) s->exemplars = std::make_unique<Exemplar[]>(n);
    Series* raw = s.get();
    {
        auto lock = this->lock();
        f.series.push_back(std::move(s));
    }
    f.index.emplace(key_, raw);
    return raw;
}

void MetricStore::clear_family(int family) {
    Family& f = *families_[static_cast<size_t>(family)];
    if (f.limited) limited_series_.fetch_sub(f.series.size(), std::memory_order_relaxed);
    f.index.clear();
    auto lock = this->lock();
    f.series.clear();
}

void MetricStore::add_constant_labels(std::string_view rendered) {
    if (rendered.empty()) return;
    auto lock = this->lock();
    for (auto& f : families_)
        for (auto& s : f->series)
            s->labels_text = std::string(rendered) + (s->labels_text.empty() ? "" : ",") + s->labels_text;
    if (!constant_labels_.empty()) constant_labels_ += ',';
    constant_labels_ += rendered;
}

void MetricStore::set_exemplars(int family, std::string label) {
    Family& f = *families_[static_cast<size_t>(family)];
    if (f.exemplar_label == label) return;
    auto lock = this->lock();
    f.exemplar_label = std::move(label);
    // Fresh slots: an id kept under another label may be another field's.
    const size_t n = exemplar_slots(f);
    for (auto& s : f.series) s->exemplars = n > 0 ? std::make_unique<Exemplar[]>(n) : nullptr;
}

size_t MetricStore::observe(int family, Series& s, double v) const {
    const auto& bounds = families_[static_cast<size_t>(family)]->buckets;
    // Few buckets: a linear scan beats a binary search.
    size_t i = 0;
    while (i < bounds.size() && v > bounds[i]) ++i;
    auto& b = s.buckets[i];
    b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    add(s, v);
    return i;
}

void MetricStore::render(std::string& out, std::string_view skip_prefix, Exposition format) const {
    const bool om = format == Exposition::OpenMetrics;
    std::string id;  // scratch for exemplars
    auto lock = this->lock();
    for (const auto& fp : families_) {
        const Family& f = *fp;
        if (f.series.empty() || (!skip_prefix.empty() && f.name.starts_with(skip_prefix))) continue;
        // OpenMetrics names a counter's family without the _total of its samples.
        std::string_view family_name = f.name;
        if (om && f.type == MetricType::Counter && family_name.ends_with("_total"))
            family_name.remove_suffix(std::string_view("_total").size());
        out += "# HELP ";
        out += family_name;
        out += ' ';
        append_help(out, f.help, format);
        out += "\n# TYPE ";
        out += family_name;
        out += ' ';
        out += type_name(f.type);
        out += '\n';
        const bool exemplars = om && !f.exemplar_label.empty();
        for (const auto& sp : f.series) {
            const Series& s = *sp;
            if (f.type != MetricType::Histogram) {
                out += f.name;
                if (!s.labels_text.empty()) {
                    out += '{';
                    out += s.labels_text;
                    out += '}';
                }
                out += ' ';
                append_value(out, s.value.load(std::memory_order_relaxed));
                if (exemplars && s.exemplars) append_exemplar(out, f.exemplar_label, s.exemplars[0], id);
                out += '\n';
                continue;
            }
            // Counts are summed from per-bucket values, so the cumulative
            // buckets are monotonic and +Inf equals _count in every scrape.
            uint64_t cumulative = 0;
            const std::string sep = s.labels_text.empty() ? "" : ",";
            for (size_t i = 0; i < f.bucket_text.size(); ++i) {
                cumulative += s.buckets[i].load(std::memory_order_relaxed);
                fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"{}\"}} {}", f.name, s.labels_text, sep,
                               f.bucket_text[i], cumulative);
                if (exemplars && s.exemplars) append_exemplar(out, f.exemplar_label, s.exemplars[i], id);
                out += '\n';
            }
            const std::string braces = s.labels_text.empty() ? "" : "{" + s.labels_text + "}";
            out += f.name;
            out += "_sum";
            out += braces;
            out += ' ';
            append_value(out, s.value.load(std::memory_order_relaxed));
            fmt::format_to(std::back_inserter(out), "\n{}_count{} {}\n", f.name, braces, cumulative);
        }
    }
    if (om) out += "# EOF\n";
}

}  // namespace ailog
