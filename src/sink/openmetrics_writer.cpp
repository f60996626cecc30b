// OpenMetricsWriter: sampling at step boundaries into per-family temp files.
#include "sink/openmetrics_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace ailog {

struct OpenMetricsWriter::FamilyOut {
    FamilyOut(int f, std::FILE* t) : family(f), tmp(t) {}
    FamilyOut(const FamilyOut&) = delete;
    FamilyOut& operator=(const FamilyOut&) = delete;
    ~FamilyOut() { std::fclose(tmp); }
    int family;
    std::FILE* tmp;
    size_t sampled_series = 0;  // series that already have their zero sample
};

namespace {

void append_number(std::string& out, double v) {
    if (std::isinf(v))
        out += v > 0 ? "+Inf" : "-Inf";
    else if (std::isnan(v))
        out += "NaN";
    else
        fmt::format_to(std::back_inserter(out), "{}", v);
}

// One sample line: name{labels[,extra]} value timestamp
void append_sample(std::string& out, std::string_view name, const std::string& labels, std::string_view extra,
                   double value, double ts_s) {
    out += name;
    if (!labels.empty() || !extra.empty()) {
        out += '{';
        out += labels;
        if (!labels.empty() && !extra.empty()) out += ',';
        out += extra;
        out += '}';
    }
    out += ' ';
    append_number(out, value);
    out += ' ';
    append_number(out, ts_s);
    out += '\n';
}

}  // namespace

OpenMetricsWriter::OpenMetricsWriter(const MetricStore& store, std::vector<int> families, double step_ms,
                                     double max_gap_ms, std::function<void(double)> before_sample)
    : store_(store), step_ms_(step_ms), max_gap_ms_(max_gap_ms), before_sample_(std::move(before_sample)) {
    for (int f : families) {
        std::FILE* tmp = std::tmpfile();
        if (tmp == nullptr)
            throw std::runtime_error(fmt::format("cannot create a temporary file: {}", std::strerror(errno)));
        families_.push_back(std::make_unique<FamilyOut>(f, tmp));
    }
}

OpenMetricsWriter::~OpenMetricsWriter() = default;

void OpenMetricsWriter::before_entry(double time_ms) {
    // In a window (from, to], after from: its instant belongs to the window before.
    if (next_boundary_ms_ < 0) next_boundary_ms_ = std::ceil(time_ms / step_ms_) * step_ms_;
    if (next_boundary_ms_ < time_ms) {
        // The last boundary before this entry; the ones between the end of
        // the previous entry's gap allowance and it are skipped.
        const double resume = (std::ceil(time_ms / step_ms_) - 1) * step_ms_;
        while (next_boundary_ms_ < time_ms) {
            if (next_boundary_ms_ > last_entry_ms_ + max_gap_ms_ && next_boundary_ms_ < resume)
                next_boundary_ms_ = resume;
            sample_at(next_boundary_ms_);
            next_boundary_ms_ += step_ms_;
        }
    }
    last_entry_ms_ = time_ms;
}

void OpenMetricsWriter::finish(double last_time_ms) {
    if (next_boundary_ms_ < 0) return;  // no entry at all
    const double last_boundary = std::ceil(last_time_ms / step_ms_) * step_ms_;
    while (next_boundary_ms_ <= std::min(last_boundary, to_ms_)) {
        sample_at(next_boundary_ms_);
        next_boundary_ms_ += step_ms_;
    }
    // The window ends between two steps: its last sample is at its end.
    if (last_boundary > to_ms_) sample_at(to_ms_);
}

void OpenMetricsWriter::sample_at(double boundary_ms) {
    if (before_sample_) before_sample_(boundary_ms);
    const double ts = boundary_ms / 1000.0;
    // After the seam with the window before, whose last sample may be at from_ms_.
    const double zero_ts = std::max(boundary_ms - step_ms_, from_ms_ + 1) / 1000.0;
    for (auto& fo : families_) {
        const auto& fam = *store_.families()[static_cast<size_t>(fo->family)];
        line_.clear();
        for (size_t i = 0; i < fam.series.size(); ++i) {
            const Series& s = *fam.series[i];
            const bool first = i >= fo->sampled_series;
            for (int pass = first ? 0 : 1; pass < 2; ++pass) {
                const bool zero = pass == 0;
                const double t = zero ? zero_ts : ts;
                if (fam.type != MetricType::Histogram) {
                    append_sample(line_, fam.name, s.labels_text, {}, zero ? 0 : s.value.load(), t);
                    continue;
                }
                uint64_t cumulative = 0;
                for (size_t b = 0; b < fam.bucket_text.size(); ++b) {
                    if (!zero) cumulative += s.buckets[b].load();
                    append_sample(line_, fam.name + "_bucket", s.labels_text,
                                  fmt::format("le=\"{}\"", fam.bucket_text[b]), static_cast<double>(cumulative), t);
                }
                append_sample(line_, fam.name + "_count", s.labels_text, {}, static_cast<double>(cumulative), t);
                append_sample(line_, fam.name + "_sum", s.labels_text, {}, zero ? 0 : s.value.load(), t);
            }
            samples_ += first ? 2 : 1;
        }
        fo->sampled_series = fam.series.size();
        if (!line_.empty() && std::fwrite(line_.data(), 1, line_.size(), fo->tmp) != line_.size())
            throw std::runtime_error(fmt::format("cannot write a temporary file: {}", std::strerror(errno)));
    }
}

void OpenMetricsWriter::write(std::FILE* out) {
    char buf[1 << 16];
    auto put = [&](std::string_view s) {
        if (std::fwrite(s.data(), 1, s.size(), out) != s.size())
            throw std::runtime_error(fmt::format("cannot write the output: {}", std::strerror(errno)));
    };
    for (auto& fo : families_) {
        const auto& fam = *store_.families()[static_cast<size_t>(fo->family)];
        if (fam.series.empty()) continue;
        // OpenMetrics names a counter family without its _total suffix.
        std::string name = fam.name;
        const char* type = "gauge";
        if (fam.type == MetricType::Counter) {
            type = "counter";
            if (name.ends_with("_total")) name.resize(name.size() - 6);
        } else if (fam.type == MetricType::Histogram) {
            type = "histogram";
        }
        put(fmt::format("# TYPE {} {}\n# HELP {} {}\n", name, type, name, fam.help));
        std::rewind(fo->tmp);
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, fo->tmp)) > 0) put({buf, n});
    }
    put("# EOF\n");
    if (std::fflush(out) != 0)
        throw std::runtime_error(fmt::format("cannot write the output: {}", std::strerror(errno)));
}

}  // namespace ailog
