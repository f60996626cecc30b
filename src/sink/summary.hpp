// Summary: the replayed history for a person (a table) or a program (JSON):
// per group of labels, requests, success ratio, average and estimated
// quantiles of the duration, tokens in and out, cost; the time window covered; the
// lines read and skipped.
#pragma once

#include <string>
#include <vector>

#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "ailog/pipeline_stats.hpp"

namespace ailog {

struct SummaryRow {
    std::vector<std::pair<std::string, std::string>> labels;  // e.g. capability, operation
    double requests = 0;
    double successes = 0;
    double duration_count = 0;
    double duration_sum = 0;
    double p50 = 0, p95 = 0, p99 = 0;  // NaN when there are no observations
    double tokens_in = 0;
    double tokens_out = 0;
    double cost_usd = 0;  // with a cost metric in the summary; NaN when some of it was not priced
};

struct Summary {
    std::vector<SummaryRow> rows;  // sorted by labels
    SummaryRow total;
    double first_ms = 0;
    double last_ms = 0;
    uint64_t entries = 0;
    PipelineStats stats;
    uint64_t outside_window = 0;
    // Entries the cost metric could not price, by model.
    std::vector<std::pair<std::string, double>> unpriced;
};

Summary summarize(const MetricStore& store, const SummarySpec& spec, const PipelineStats& stats, double first_ms,
                  double last_ms, uint64_t entries);

// Prometheus's histogram_quantile on cumulative buckets (upper bounds
// ascending, +Inf last): linear interpolation inside the bucket.
double histogram_quantile(double q, const std::vector<double>& bounds, const std::vector<double>& cumulative);

std::string format_summary_table(const Summary& s, const SummarySpec& spec);
std::string format_summary_json(const Summary& s, const SummarySpec& spec);

}  // namespace ailog
