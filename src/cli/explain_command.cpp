// explain: each line through the real decoder and pipeline, the metric store
// compared before and after it.
#include "cli/explain_command.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include <fmt/format.h>

#include "ailog/clock.hpp"
#include "ailog/metric_store.hpp"
#include "cli/options.hpp"
#include "decode/line_decoder.hpp"
#include "pipeline/pipeline.hpp"
#include "source/line_framer.hpp"

namespace ailog::cli {
namespace {

// Each series of the mapping's metrics: its value (a histogram's sum) and,
// for histograms, its count.
struct Point {
    double value = 0;
    uint64_t count = 0;
    bool histogram = false;
};
using Snapshot = std::map<std::string, Point>;

Snapshot snapshot(const MetricStore& store, const Mappings& mappings) {
    Snapshot out;
    for (const Mapping& mapping : mappings)
        for (const auto& spec : mapping.metrics) {
            const int f = store.find_family(spec.name);
            if (f < 0) continue;
            const auto& family = *store.families()[static_cast<size_t>(f)];
            for (const auto& s : family.series) {
                Point p{s->value.load(), 0, family.type == MetricType::Histogram};
                if (p.histogram)
                    for (size_t b = 0; b <= family.buckets.size(); ++b) p.count += s->buckets[b].load();
                out[fmt::format("{}{{{}}}", family.name, s->labels_text)] = p;
            }
        }
    return out;
}

std::string iso_time(double ms) {
    const auto secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms - static_cast<double>(secs) * 1000));
}

std::string describe(const Event& e, const Mapping& m) {
    std::string out = m.name.empty() ? "" : m.name + ": ";
    out += m.kinds[static_cast<size_t>(e.kind)].name;
    out += e.has_time && !e.arrival_time ? " at " + iso_time(e.time_ms) : " (no time of its own)";
    std::string fields;
    for (size_t i = 0; i < m.fields.size(); ++i) {
        const auto& f = e.fields[i];
        if (!f.present || static_cast<int>(i) == m.message_field || static_cast<int>(i) == m.time_field) continue;
        if (m.fields[i].type == FieldType::String || m.fields[i].type == FieldType::Level)
            fields += fmt::format(" {}={:?}", m.fields[i].name, std::string(f.str));
        else if (m.fields[i].type == FieldType::Timestamp)
            fields += fmt::format(" {}={}", m.fields[i].name, iso_time(f.num));
        else
            fields += fmt::format(" {}={}", m.fields[i].name, f.num);
    }
    if (!fields.empty()) out += "\n   fields:" + fields;
    return out;
}

}  // namespace

int run_explain(const CommonSettings& o) {
    setup_logging(LogLevel::Error, o.log_format);  // the skips are told per line here
    const Mappings& mappings = *o.mappings;
    const std::string path = o.paths.empty() ? "-" : o.paths.front();
    std::ifstream file;
    std::istream* in = &std::cin;
    if (path != "-") {
        file.open(path, std::ios::binary);
        if (!file) return startup_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
        in = &file;
    }

    SystemClock clock;
    MetricStore store(o.max_series);
    PipelineOptions popts;
    popts.decode = o.decode;
    popts.correlation = o.correlation;
    Pipeline pipeline(mappings, store, clock, popts);
    const int source = pipeline.open_source(path);
    // The same line decoded once more on the side, to show what was read.
    PipelineStats side_stats;
    LineDecoder side(mappings, clock, popts.decode, side_stats);
    const int side_source = side.open_source(path);

    std::string line;
    std::string buf;
    for (uint64_t n = 1; std::getline(*in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        buf.assign(line);
        buf.append(kLinePadding, '\n');
        const Snapshot before = snapshot(store, mappings);
        const auto skipped_before = pipeline.stats().skipped;
        std::string what;
        side.decode(side_source, std::string_view(buf.data(), line.size()), buf.size(), [&](const Event& e) {
            what += (what.empty() ? "" : "\n   then ") + describe(e, mappings[e.mapping]);
        });
        pipeline.on_line(source, std::string_view(buf.data(), line.size()), buf.size());
        pipeline.publish();
        for (size_t r = 0; r < skipped_before.size(); ++r) {
            if (pipeline.stats().skipped[r] == skipped_before[r]) continue;
            what += (what.empty() ? "" : "; ") + fmt::format("skipped ({})", kSkipReasonNames[r]);
            if (static_cast<SkipReason>(r) != SkipReason::NotMatched) continue;
            for (size_t i = 0; i < mappings.size(); ++i)
                what += (i == 0 ? ": " : "; ") + (mappings[i].name.empty() ? "" : mappings[i].name + ": ") +
                        side.json(i).why_not_matched();
        }
        if (what.empty()) what = "joined with the next record (a split Docker/CRI line)";
        std::cout << fmt::format("{}: {}\n", n, what);
        for (const auto& [series, now] : snapshot(store, mappings)) {
            const auto it = before.find(series);
            const Point was = it == before.end() ? Point{0, 0, now.histogram} : it->second;
            if (now.histogram && now.count != was.count)
                std::cout << fmt::format("   {} observed {}\n", series, now.value - was.value);
            else if (!now.histogram && now.value != was.value)
                std::cout << fmt::format("   {} {:+}\n", series, now.value - was.value);
        }
    }
    return 0;
}

}  // namespace ailog::cli
