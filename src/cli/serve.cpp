// serve: inputs -> pipeline thread -> metric store <- HTTP scrapes; the main
// thread waits for signals.
#include "cli/serve.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "ailog/clock.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "common/duration.hpp"
#include "log.hpp"
#include "pipeline.hpp"
#include "sink/http_server.hpp"
#include "source/follower.hpp"
#include "source/paths.hpp"
#include "version.hpp"

namespace ailog::cli {
namespace {

constexpr int kStartupError = 2;

int fail(const std::string& message) {
    spdlog::error("{}", message);
    return kStartupError;
}

}  // namespace

int run_serve(const ServeOptions& o) {
    setup_logging(o.log_level, *parse_log_format(o.log_format));

    try {
        civetweb_listen_spec(o.listen_address);
    } catch (const std::invalid_argument& e) {
        return fail(fmt::format("invalid --web.listen-address \"{}\": {}", o.listen_address, e.what()));
    }

    const Mapping mapping = executeparse_mapping();
    if (auto problem = mapping.validate()) return fail("invalid mapping: " + *problem);

    ExpandedPaths paths;
    try {
        paths = expand_paths(o.paths);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    for (const auto& w : paths.warnings) spdlog::warn("{}", w);
    if (paths.files.empty() && !paths.stdin_used) return fail("no input to read: every PATH is empty");

    MetricStore store(o.max_series);
    SystemClock clock;
    PipelineOptions popts;
    popts.wrapper = *parse_wrapper_kind(o.wrapper);
    popts.max_line_bytes = o.max_line_bytes;
    popts.correlation.max_entries = o.correlation_max_entries;
    popts.correlation.max_age_ms = *parse_duration_ms(o.correlation_max_age);
    Pipeline pipeline(mapping, store, clock, popts);

    FollowOptions fopts;
    fopts.start_at_end = o.start_at == "end";
    fopts.exit_on_eof = o.exit_on_eof;
    fopts.max_line_bytes = o.max_line_bytes;
    Follower follower(fopts, pipeline);
    try {
        for (const auto& f : paths.files) follower.add_file(f, pipeline.add_source(f));
        if (paths.stdin_used) follower.add_stdin(pipeline.add_source("-"));
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    pipeline.set_files_watched(follower.inputs());
    pipeline.publish();

    std::atomic<bool> reading{false};
    std::unique_ptr<HttpServer> http;
    try {
        http = std::make_unique<HttpServer>(
            HttpOptions{o.listen_address, o.telemetry_path, 4}, store,
            [&pipeline] { pipeline.self_metrics().refresh_process(); }, [&reading] { return reading.load(); });
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    spdlog::info("ailog_exporter {} ({}) listening address={} telemetry_path={} inputs={}", kVersion, kRevision,
                 http->address(), o.telemetry_path, follower.inputs());

    const pthread_t main_thread = pthread_self();
    std::thread reader([&] {
        reading = true;
        follower.run();
        // Tell the main thread that reading is over (--exit-on-eof).
        pthread_kill(main_thread, SIGUSR1);
    });

    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, s);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            spdlog::info("SIGHUP received; inputs are already followed continuously");
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
    follower.stop();
    reader.join();
    http.reset();
    return 0;
}

}  // namespace ailog::cli
