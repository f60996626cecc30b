// Summary: grouping, quantile estimation, table and JSON rendering.
#include "sink/summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>

#include "ailog/skip_reason.hpp"
#include "common/json_string.hpp"

namespace ailog {
namespace {

using Key = std::vector<std::pair<std::string, std::string>>;

struct Group {
    SummaryRow row;
    std::vector<double> buckets;  // per bucket, summed over outcomes
};

const MetricStore::Family* family(const MetricStore& store, const std::string& name) {
    const int f = store.find_family(name);
    return f < 0 ? nullptr : store.families()[static_cast<size_t>(f)].get();
}

// The series' labels that are in `keep`; the value of `skip_label` (an
// outcome, a token direction) goes to `skipped`.
Key key_without(const MetricStore::Family& f, const Series& s, const std::string& skip_label, std::string* skipped,
                const std::vector<std::string>& keep) {
    Key k;
    for (size_t i = 0; i < f.label_names.size(); ++i)
        if (f.label_names[i] == skip_label && skipped != nullptr) *skipped = s.label_values[i];
    // In the order of `keep`, whatever the family's: one group, one key.
    for (const auto& name : keep)
        for (size_t i = 0; i < f.label_names.size(); ++i)
            if (f.label_names[i] == name) k.emplace_back(name, s.label_values[i]);
    return k;
}

// The labels rows are grouped by: those every metric of the summary has
// (the cost of calls may not be split by prompt version), besides the
// outcome and the token direction, in the order of the first metric's.
std::vector<std::string> grouping_labels(const MetricStore& store, const SummarySpec& spec) {
    std::vector<std::string> keep;
    bool first = true;
    const std::pair<const std::string*, const std::string*> metrics[] = {{&spec.requests_metric, &spec.outcome_label},
                                                                         {&spec.duration_metric, &spec.outcome_label},
                                                                         {&spec.tokens_metric, &spec.tokens_type_label},
                                                                         {&spec.cost_metric, nullptr}};
    for (const auto& [name, skip] : metrics) {
        const int fi = store.find_family(*name);
        if (fi < 0) continue;
        const auto& labels = store.families()[static_cast<size_t>(fi)]->label_names;
        if (first) {
            for (const auto& l : labels)
                if (skip == nullptr || l != *skip) keep.push_back(l);
            first = false;
        } else {
            std::erase_if(
                keep, [&](const std::string& l) { return std::find(labels.begin(), labels.end(), l) == labels.end(); });
        }
    }
    return keep;
}

void fill_quantiles(SummaryRow& row, const std::vector<double>& bounds, const std::vector<double>& per_bucket) {
    std::vector<double> cumulative;
    double c = 0;
    for (double b : per_bucket) cumulative.push_back(c += b);
    row.p50 = histogram_quantile(0.50, bounds, cumulative);
    row.p95 = histogram_quantile(0.95, bounds, cumulative);
    row.p99 = histogram_quantile(0.99, bounds, cumulative);
}

std::string iso(double ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec);
}

std::string span(double ms) {
    auto s = static_cast<long long>(ms / 1000);
    if (s >= 86400) return fmt::format("{}d{}h", s / 86400, s % 86400 / 3600);
    if (s >= 3600) return fmt::format("{}h{}m", s / 3600, s % 3600 / 60);
    if (s >= 60) return fmt::format("{}m{}s", s / 60, s % 60);
    return fmt::format("{}s", s);
}

std::string num(double v, int decimals) {
    if (std::isnan(v)) return "-";
    return fmt::format("{:.{}f}", v, decimals);
}

std::string json_num(double v) {
    return std::isnan(v) || std::isinf(v) ? "null" : fmt::format("{}", v);
}

std::string json_str(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

}  // namespace

double histogram_quantile(double q, const std::vector<double>& bounds, const std::vector<double>& cumulative) {
    if (cumulative.empty() || cumulative.back() <= 0) return std::numeric_limits<double>::quiet_NaN();
    const double rank = q * cumulative.back();
    size_t i = 0;
    while (i < cumulative.size() && cumulative[i] < rank) ++i;
    if (i >= bounds.size()) return bounds.empty() ? std::numeric_limits<double>::quiet_NaN() : bounds.back();
    const double upper = bounds[i];
    const double lower = i == 0 ? (upper > 0 ? 0 : upper) : bounds[i - 1];
    const double below = i == 0 ? 0 : cumulative[i - 1];
    const double in_bucket = cumulative[i] - below;
    if (in_bucket <= 0) return upper;
    return lower + (upper - lower) * (rank - below) / in_bucket;
}

Summary summarize(const MetricStore& store, const SummarySpec& spec, const PipelineStats& stats, double first_ms,
                  double last_ms, uint64_t entries) {
    std::map<Key, Group> groups;
    std::vector<double> bounds;
    const std::vector<std::string> keep = grouping_labels(store, spec);
    if (const auto* f = family(store, spec.requests_metric)) {
        for (const auto& s : f->series) {
            std::string outcome;
            auto& row = groups[key_without(*f, *s, spec.outcome_label, &outcome, keep)].row;
            const double v = s->value.load();
            row.requests += v;
            if (outcome == spec.success_value) row.successes += v;
        }
    }
    if (const auto* f = family(store, spec.duration_metric)) {
        bounds = f->buckets;
        for (const auto& s : f->series) {
            auto& g = groups[key_without(*f, *s, spec.outcome_label, nullptr, keep)];
            g.buckets.resize(f->buckets.size() + 1, 0);
            for (size_t b = 0; b <= f->buckets.size(); ++b) {
                const double c = static_cast<double>(s->buckets[b].load());
                g.buckets[b] += c;
                g.row.duration_count += c;
            }
            g.row.duration_sum += s->value.load();
        }
    }
    if (const auto* f = family(store, spec.tokens_metric)) {
        for (const auto& s : f->series) {
            std::string type;
            auto& row = groups[key_without(*f, *s, spec.tokens_type_label, &type, keep)].row;
            if (type == spec.tokens_in_value) row.tokens_in += s->value.load();
            if (type == spec.tokens_out_value) row.tokens_out += s->value.load();
        }
    }
    if (const auto* f = family(store, spec.cost_metric))
        for (const auto& s : f->series) groups[key_without(*f, *s, {}, nullptr, keep)].row.cost_usd += s->value.load();
    Summary out;
    // A row of a model without a price has no cost to show: not 0, unknown.
    if (const auto* f = family(store, "ailog_exporter_unpriced_entries_total"); f && !spec.cost_metric.empty())
        for (const auto& s : f->series) {
            if (s->label_values[0] != spec.cost_metric) continue;
            const std::string& model = s->label_values[1];
            out.unpriced.emplace_back(model, s->value.load());
            for (auto& [key, g] : groups)
                for (const auto& [name, value] : key)
                    if (name == spec.cost_model_label && value == model)
                        g.row.cost_usd = std::numeric_limits<double>::quiet_NaN();
        }

    std::vector<double> all_buckets(bounds.size() + 1, 0);
    for (auto& [key, g] : groups) {
        g.row.labels = key;
        g.buckets.resize(bounds.size() + 1, 0);
        fill_quantiles(g.row, bounds, g.buckets);
        for (size_t b = 0; b < g.buckets.size(); ++b) all_buckets[b] += g.buckets[b];
        out.total.requests += g.row.requests;
        out.total.successes += g.row.successes;
        out.total.duration_count += g.row.duration_count;
        out.total.duration_sum += g.row.duration_sum;
        out.total.tokens_in += g.row.tokens_in;
        out.total.tokens_out += g.row.tokens_out;
        if (!std::isnan(g.row.cost_usd)) out.total.cost_usd += g.row.cost_usd;  // what was priced
        out.rows.push_back(g.row);
    }
    fill_quantiles(out.total, bounds, all_buckets);
    out.first_ms = first_ms;
    out.last_ms = last_ms;
    out.entries = entries;
    out.stats = stats;
    return out;
}

std::string format_summary_table(const Summary& s, const SummarySpec& spec) {
    std::string out;
    if (s.entries == 0) {
        out += "No entries in the window.\n";
    } else {
        out += fmt::format("Window: {} to {} ({}), {} entries\n\n", iso(s.first_ms), iso(s.last_ms),
                           span(s.last_ms - s.first_ms), s.entries);
    }
    std::vector<std::string> header;
    if (!s.rows.empty())
        for (const auto& [name, value] : s.rows.front().labels) header.push_back(name);
    const std::string unit = spec.duration_unit;
    for (const char* h : {"requests", "success %"}) header.emplace_back(h);
    for (const char* h : {"avg", "p50", "p95", "p99"}) header.push_back(fmt::format("{} {}", h, unit));
    header.emplace_back("tokens in");
    header.emplace_back("tokens out");
    const bool cost = !spec.cost_metric.empty();
    if (cost) header.emplace_back("cost USD");
    const size_t label_cols = header.size() - (cost ? 9 : 8);

    std::vector<std::vector<std::string>> rows;
    auto row_cells = [&](const SummaryRow& r, bool total) {
        std::vector<std::string> cells;
        for (size_t i = 0; i < label_cols; ++i) cells.push_back(total ? (i == 0 ? "TOTAL" : "") : r.labels[i].second);
        cells.push_back(num(r.requests, 0));
        cells.push_back(r.requests > 0 ? num(100.0 * r.successes / r.requests, 2) : "-");
        cells.push_back(r.duration_count > 0 ? num(r.duration_sum / r.duration_count, 1) : "-");
        cells.push_back(num(r.p50, 1));
        cells.push_back(num(r.p95, 1));
        cells.push_back(num(r.p99, 1));
        cells.push_back(num(r.tokens_in, 0));
        cells.push_back(num(r.tokens_out, 0));
        if (cost) cells.push_back(num(r.cost_usd, 6));
        return cells;
    };
    for (const auto& r : s.rows) rows.push_back(row_cells(r, false));
    rows.push_back(row_cells(s.total, true));

    std::vector<size_t> width(header.size());
    for (size_t c = 0; c < header.size(); ++c) {
        width[c] = header[c].size();
        for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
        for (size_t c = 0; c < cells.size(); ++c) {
            if (c) out += "  ";
            if (c < label_cols)
                out += fmt::format("{:<{}}", cells[c], width[c]);
            else
                out += fmt::format("{:>{}}", cells[c], width[c]);
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        out += '\n';
    };
    line(header);
    for (size_t i = 0; i < rows.size(); ++i) {
        if (i + 1 == rows.size()) {
            size_t total_width = 0;
            for (size_t w : width) total_width += w + 2;
            out += std::string(total_width - 2, '-') + "\n";
        }
        line(rows[i]);
    }
    if (cost && !s.unpriced.empty()) {
        std::string models;
        double entries = 0;
        for (const auto& [model, n] : s.unpriced) {
            models += fmt::format("{}{} ({})", models.empty() ? "" : ", ", model, n);
            entries += n;
        }
        out += fmt::format(
            "\nNot priced (no price for the model; their cost is \"-\" and left out of the total): {} "
            "entries: {}\n",
            entries, models);
    }
    out += fmt::format(
        "\np50/p95/p99 are estimated from the histogram buckets by linear interpolation, as Prometheus's "
        "histogram_quantile() does.\n");

    uint64_t skipped = 0;
    std::string reasons;
    for (size_t r = 0; r < s.stats.skipped.size(); ++r) {
        if (s.stats.skipped[r] == 0) continue;
        skipped += s.stats.skipped[r];
        reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", kSkipReasonNames[r], s.stats.skipped[r]);
    }
    out += fmt::format("Lines: {} read ({} bytes), {} skipped{}{}{}\n", s.stats.lines, s.stats.bytes, skipped,
                       reasons.empty() ? "" : " (", reasons, reasons.empty() ? "" : ")");
    if (s.stats.entries_without_time > 0)
        out += fmt::format("Entries without a usable timestamp (skipped): {}\n", s.stats.entries_without_time);
    std::string invalid;
    for (size_t r = 1; r < s.stats.invalid_timestamps.size(); ++r)
        if (s.stats.invalid_timestamps[r] > 0)
            invalid +=
                fmt::format("{}{} {}", invalid.empty() ? "" : ", ", kTimeErrorNames[r], s.stats.invalid_timestamps[r]);
    if (!invalid.empty()) out += fmt::format("Invalid timestamps: {}\n", invalid);
    if (s.stats.entries_outside_window > 0)
        out += fmt::format("Entries outside --from/--to (skipped): {}\n", s.stats.entries_outside_window);
    return out;
}

std::string format_summary_json(const Summary& s, const SummarySpec& spec) {
    auto row_json = [&spec](const SummaryRow& r) {
        std::string labels;
        for (const auto& [k, v] : r.labels)
            labels += fmt::format("{}{}:{}", labels.empty() ? "" : ",", json_str(k), json_str(v));
        return fmt::format(
            "{{\"labels\":{{{}}},\"requests\":{},\"successes\":{},\"success_ratio\":{},\"duration\":{{\"count\":{},"
            "\"sum\":{},\"avg\":{},\"p50\":{},\"p95\":{},\"p99\":{}}},\"tokens\":{{\"input\":{},\"output\":{}}}{}}}",
            labels, json_num(r.requests), json_num(r.successes),
            r.requests > 0 ? json_num(r.successes / r.requests) : "null", json_num(r.duration_count),
            json_num(r.duration_sum), r.duration_count > 0 ? json_num(r.duration_sum / r.duration_count) : "null",
            json_num(r.p50), json_num(r.p95), json_num(r.p99), json_num(r.tokens_in), json_num(r.tokens_out),
            spec.cost_metric.empty() ? "" : fmt::format(",\"cost_usd\":{}", json_num(r.cost_usd)));
    };
    std::string rows;
    for (const auto& r : s.rows) rows += (rows.empty() ? "" : ",\n  ") + row_json(r);
    std::string unpriced;
    for (const auto& [model, n] : s.unpriced)
        unpriced += fmt::format("{}{}:{}", unpriced.empty() ? "" : ",", json_str(model), json_num(n));
    if (!spec.cost_metric.empty()) unpriced = fmt::format(",\n\"unpriced\":{{{}}}", unpriced);
    std::string skipped;
    for (size_t r = 0; r < s.stats.skipped.size(); ++r)
        skipped +=
            fmt::format("{}{}:{}", skipped.empty() ? "" : ",", json_str(kSkipReasonNames[r]), s.stats.skipped[r]);
    std::string invalid;
    for (size_t r = 1; r < s.stats.invalid_timestamps.size(); ++r)
        invalid += fmt::format("{}{}:{}", invalid.empty() ? "" : ",", json_str(kTimeErrorNames[r]),
                               s.stats.invalid_timestamps[r]);
    return fmt::format(
        "{{\"window\":{{\"first\":{},\"last\":{}}},\"entries\":{},\n\"rows\":[\n  {}],\n\"total\":{},\n"
        "\"lines\":{{\"read\":{},\"bytes\":{},\"skipped\":{{{}}},\"without_timestamp\":{},\"invalid_timestamps\":{{{}}}"
        ","
        "\"outside_window\":{}}},\n"
        "\"quantiles\":\"estimated from histogram buckets by linear interpolation, as histogram_quantile() "
        "does\"{}}}\n",
        s.entries ? json_str(iso(s.first_ms)) : "null", s.entries ? json_str(iso(s.last_ms)) : "null", s.entries, rows,
        row_json(s.total), s.stats.lines, s.stats.bytes, skipped, s.stats.entries_without_time, invalid,
        s.stats.entries_outside_window, unpriced);
}

}  // namespace ailog
