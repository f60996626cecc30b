// replay: rotated sets -> Replay (merge, decode, derive) -> OpenMetrics,
// exposition, or summary.
#include "cli/replay_command.hpp"

#include "cli/options.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "ailog/clock.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "common/fd_limit.hpp"
#include "common/log.hpp"
#include "replay/replay.hpp"
#include "sink/openmetrics_writer.hpp"
#include "sink/summary.hpp"

namespace ailog::cli {
namespace {

// A progress bar on stderr: done of total, throughput, time left.
class ProgressBar {
public:
    explicit ProgressBar(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
    void update(uint64_t done, uint64_t total) {
        if (!enabled_) return;
        const auto now = std::chrono::steady_clock::now();
        if (done < total && now - last_ < std::chrono::milliseconds(200)) return;
        last_ = now;
        const double secs = std::chrono::duration<double>(now - start_).count();
        const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
        const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1;
        const int filled = static_cast<int>(frac * 30);
        const double eta = rate > 0 ? static_cast<double>(total - std::min(done, total)) / rate : 0;
        std::fprintf(stderr, "\r[%-30s] %5.1f%%  %.1f of %.1f MB  %.0f MB/s  ETA %.0fs ",
                     std::string(static_cast<size_t>(filled), '#').c_str(), 100 * frac, static_cast<double>(done) / 1e6,
                     static_cast<double>(total) / 1e6, rate / 1e6, eta);
        if (done >= total) std::fprintf(stderr, "\n");
        std::fflush(stderr);
    }

private:
    bool enabled_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_{};
};

// --label NAME=VALUE on every series; a name the series already have is an error.
std::optional<std::string> add_constant_labels(MetricStore& store,
                                               const std::vector<std::pair<std::string, std::string>>& labels) {
    std::string rendered;
    for (const auto& [name, value] : labels) {
        if (name == "le") return "--label le: histogram buckets have a label of that name";
        for (const auto& f : store.families())
            for (const auto& n : f->label_names)
                if (n == name) return fmt::format("--label {}: {} already has a label of that name", name, f->name);
        if (!rendered.empty()) rendered += ',';
        rendered += name + "=\"";
        append_escaped_label_value(rendered, value);
        rendered += '"';
    }
    store.add_constant_labels(rendered);
    return std::nullopt;
}

}  // namespace

int run_replay(const ReplaySettings& o) {
    setup_logging(o.log_level, o.log_format);
    const Mappings& mappings = *o.mappings;
    // The summary reads the first mapping that says how.
    const Mapping* summarized = &mappings.front();
    for (const Mapping& m : mappings)
        if (!m.summary.requests_metric.empty()) {
            summarized = &m;
            break;
        }

    SystemClock clock;
    ReplayOptions ropts;
    ropts.decode = o.decode;
    ropts.threads = o.threads;
    ropts.correlation = o.correlation;
    ropts.from_ms = o.from_ms;
    ropts.to_ms = o.to_ms;

    std::vector<RotatedSet> sets;
    try {
        sets = collect_rotated_sets(o.paths, o.recursive);
    } catch (const std::exception& e) {
        return startup_error(e.what());
    }
    if (sets.empty()) return startup_error("no log file to read: every PATH is empty");
    raise_fd_limit();

    std::FILE* out = stdout;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out_file(nullptr, &std::fclose);
    if (!o.output_file.empty()) {
        out_file.reset(std::fopen(o.output_file.c_str(), "wb"));
        if (!out_file) return startup_error(fmt::format("cannot write {}: {}", o.output_file, std::strerror(errno)));
        out = out_file.get();
    }

    MetricStore store(o.max_series);
    Replay replay(mappings, store, clock, ropts, std::move(sets));
    if (auto problem = add_constant_labels(store, o.labels)) return startup_error(*problem);
    std::unique_ptr<OpenMetricsWriter> sampler;
    try {
        if (o.output == ReplayOutput::OpenMetrics) {
            Pipeline& pipeline = replay.pipeline();
            // Starts whose end never comes leave the in-flight gauge at the
            // instant the live exporter would have forgotten them.
            sampler = std::make_unique<OpenMetricsWriter>(store, pipeline.families(), o.step.count(), o.max_gap.count(),
                                                          [&pipeline](double t) { pipeline.expire_read(t); });
        }
        ProgressBar bar(!o.quiet && isatty(STDERR_FILENO));
        const ReplayResult r =
            replay.run(sampler.get(), [&](uint64_t done, uint64_t total) { bar.update(done, total); });

        if (o.output == ReplayOutput::OpenMetrics) {
            sampler->write(out);
        } else if (o.output == ReplayOutput::Prometheus) {
            std::string text;
            store.render(text, "process_");  // they would describe this replay, not the service
            std::fwrite(text.data(), 1, text.size(), out);
        } else {
            const Summary s =
                summarize(store, summarized->summary, replay.pipeline().stats(), r.first_ms, r.last_ms, r.entries);
            const std::string text = o.output == ReplayOutput::Json ? format_summary_json(s, summarized->summary)
                                                                    : format_summary_table(s, summarized->summary);
            std::fwrite(text.data(), 1, text.size(), out);
        }
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    if (std::fflush(out) != 0 || std::ferror(out)) {
        spdlog::error("cannot write the output: {}", std::strerror(errno));
        return 1;
    }
    return 0;
}

}  // namespace ailog::cli
