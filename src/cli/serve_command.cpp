// serve: inputs -> pipeline thread -> metric store <- HTTP scrapes; the main
// thread waits for signals.
#include "cli/serve_command.hpp"

#include "cli/options.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "ailog/clock.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "common/fd_limit.hpp"
#include "common/log.hpp"
#include "config/mapping_loader.hpp"
#include "pipeline/pipeline.hpp"
#include "sink/http_server.hpp"
#include "source/tailer.hpp"
#include "state/checkpoint.hpp"
#include "state/state.hpp"
#include "version.hpp"

namespace ailog::cli {
namespace {

// The state file's contents, or nothing (absent, or unusable and set aside).
std::optional<State> load_state(const std::string& path) {
    try {
        const auto data = read_state_file(path);
        if (!data) {
            spdlog::info("no state file at {} yet; starting afresh", path);
            return std::nullopt;
        }
        return parse_state(*data);
    } catch (const StateError& e) {
        set_aside_state_file(path, e.what());
        return std::nullopt;
    }
}

// Reload requests (SIGHUP, POST /-/reload) handed to the pipeline thread,
// which loads the mapping file between batches of lines. Requests that
// arrive while one is under way are served by the next load.
class Reloads {
public:
    // Any thread: asks for a reload; returns its ticket.
    uint64_t request() {
        std::lock_guard lock(mutex_);
        return ++requested_;
    }
    // Any thread: waits for the load that serves `ticket`; its error, "" if it worked.
    std::string wait(uint64_t ticket, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        if (!done_cv_.wait_for(lock, timeout, [&] { return done_ >= ticket || closed_; }))
            return "the reload did not finish in time";
        return done_ >= ticket ? error_ : std::string("the exporter is no longer reading its inputs");
    }
    // No more loads (reading is over): waiters are answered now.
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        done_cv_.notify_all();
    }
    // Pipeline thread: loads when asked, with `load` returning an error or "".
    template <class Load>
    void serve(Load&& load) {
        uint64_t target;
        {
            std::lock_guard lock(mutex_);
            if (requested_ == done_) return;
            target = requested_;
        }
        std::string error = load();
        {
            std::lock_guard lock(mutex_);
            done_ = target;
            error_ = std::move(error);
        }
        done_cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable done_cv_;
    uint64_t requested_ = 0;
    uint64_t done_ = 0;
    std::string error_;
    bool closed_ = false;
};

}  // namespace

int run_serve(const ServeSettings& o) {
    setup_logging(o.log_level, o.log_format);
    const Mappings& mappings = *o.mappings;
    raise_fd_limit();

    MetricStore store(o.max_series);
    SystemClock clock;
    PipelineOptions popts;
    popts.decode = o.decode;
    popts.correlation = o.correlation;
    Pipeline pipeline(mappings, store, clock, popts);
    pipeline.self_metrics().config_loaded(true, clock.now_ms() / 1000);

    const bool stateful = !o.state_file.empty();
    if (stateful) {
        // The file is created on the first commit; its directory must be there.
        std::error_code ec;
        const auto dir = std::filesystem::absolute(o.state_file, ec).parent_path();
        if (ec || !std::filesystem::is_directory(dir, ec))
            return startup_error(fmt::format("invalid --state.file \"{}\": the directory {} does not exist",
                                             o.state_file, dir.string()));
    }
    std::optional<State> state;
    if (stateful) {
        state = load_state(o.state_file);
        if (state) {
            try {
                check_state(*state, store, pipeline.families());
                restore_state(*state, pipeline, store, clock.now_ms());
                spdlog::info("state restored file={} files={} open_requests={}", o.state_file, state->files.size(),
                             state->open_starts.size());
            } catch (const StateError& e) {
                set_aside_state_file(o.state_file, e.what());
                state.reset();
            }
        }
    }

    TailOptions topts;
    topts.start_at_end = o.start_at_end;
    topts.exit_on_eof = o.exit_on_eof;
    topts.recursive = o.recursive;
    topts.max_line_bytes = o.decode.max_line_bytes;
    topts.rescan_interval_ms = o.rescan_interval.count();
    Tailer tailer(topts, pipeline);
    bool use_stdin = false;
    try {
        for (const auto& p : o.paths) {
            if (p == "-") {
                if (use_stdin) return startup_error("- (stdin) is given more than once");
                use_stdin = true;
            } else {
                tailer.add_path(p);
            }
        }
    } catch (const std::exception& e) {
        return startup_error(e.what());
    }
    if (use_stdin) tailer.add_stdin();
    std::vector<FileIdentity> saved_files;
    if (state) saved_files.assign(state->files.begin(), state->files.end());
    tailer.start(state ? &saved_files : nullptr,
                 [&](int source, size_t i) { pipeline.decoder().restore_source(source, state->files[i]); });
    pipeline.set_files_watched(tailer.stats().files);
    pipeline.publish();

    std::optional<Checkpointer> checkpointer;
    if (stateful) checkpointer.emplace(o.state_file, o.state_interval.count(), pipeline, store, tailer);

    // Loads the mapping file again; the pipeline thread, between batches.
    Reloads reloads;
    auto reload = [&]() -> std::string {
        if (o.config_file.empty()) {
            spdlog::info("reload: no --config.file, the built-in mapping stays");
            pipeline.self_metrics().config_loaded(true, clock.now_ms() / 1000);
            return "";
        }
        try {
            auto next = std::make_shared<const Mappings>(load_mappings_file(o.config_file));
            pipeline.reload(std::move(next));
            pipeline.self_metrics().config_loaded(true, clock.now_ms() / 1000);
            spdlog::info("mapping reloaded file={}", o.config_file);
            return "";
        } catch (const ConfigError& e) {
            for (const auto& p : e.problems()) spdlog::error("reload failed, the previous mapping stays: {}", p);
            pipeline.self_metrics().config_loaded(false, 0);
            return e.problems().empty() ? std::string(e.what()) : e.problems().front();
        }
    };

    std::atomic<bool> reading{false};
    // With a state file, counters restart at their last committed values,
    // which can be below what was served just before a crash: /metrics waits
    // until the files are read up to where they were at start.
    auto ready = [&] { return reading.load() && (!stateful || tailer.caught_up()); };
    std::unique_ptr<HttpServer> http;
    try {
        HttpOptions hopts;
        hopts.listen = o.listen;
        hopts.endpoints.telemetry_path = o.telemetry_path;
        hopts.endpoints.gate_metrics_on_ready = stateful;
        hopts.max_connections = o.max_connections;
        hopts.request_timeout_s = static_cast<unsigned>(std::ceil(o.request_timeout.count() / 1000));
        hopts.web = o.web;
        if (o.enable_lifecycle)
            hopts.endpoints.reload = [&] {
                const uint64_t ticket = reloads.request();
                tailer.request_rescan();  // wakes the pipeline thread
                return reloads.wait(ticket, std::chrono::seconds(30));
            };
        http = std::make_unique<HttpServer>(
            hopts, store, [&pipeline] { pipeline.self_metrics().refresh_process(); }, ready);
    } catch (const std::exception& e) {
        return startup_error(e.what());
    }
    {
        // Logged whatever --log.level says: with port 0 it is the only place
        // the chosen port is told. No other thread logs yet.
        const auto level = spdlog::get_level();
        if (level > spdlog::level::info) spdlog::set_level(spdlog::level::info);
        spdlog::info("ailog_exporter {} ({}) listening address={} telemetry_path={} inputs={}", kVersion, kRevision,
                     http->address(), o.telemetry_path, tailer.stats().files);
        spdlog::set_level(level);
    }

    // Counted on from their restored values.
    const uint64_t rotations_before = pipeline.stats().rotations;
    const uint64_t truncations_before = pipeline.stats().truncations;
    const pthread_t main_thread = pthread_self();
    std::thread reader([&] {
        reading = true;
        tailer.run([&](bool idle) {
            PipelineStats& stats = pipeline.mutable_stats();
            stats.rotations = rotations_before + tailer.stats().rotations;
            stats.truncations = truncations_before + tailer.stats().truncations;
            stats.files_watched = tailer.stats().files;
            stats.pending_bytes = tailer.stats().pending_bytes;
            reloads.serve(reload);
            pipeline.on_batch_end(idle);
            if (checkpointer) checkpointer->maybe_commit(clock.now_ms());
        });
        if (checkpointer) {
            checkpointer->commit(clock.now_ms());
            pipeline.publish();
        }
        reloads.close();
        pthread_kill(main_thread, SIGUSR1);  // reading is over
    });

    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, s);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            spdlog::info("SIGHUP received; rescanning paths and reloading the mapping");
            reloads.request();
            tailer.request_rescan();
            continue;
        }
        if (sig == SIGUSR1) {
            if (!o.exit_on_eof) continue;
            spdlog::info("all inputs read to their end; exiting");
        } else {
            spdlog::info("{} received; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        }
        break;
    }
    tailer.stop();
    reader.join();
    http.reset();
    return 0;
}

}  // namespace ailog::cli
