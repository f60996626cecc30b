// CLI11 wiring: flags, help text with examples, validation, exit codes.
#include "cli/options.hpp"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "common/duration.hpp"
#include "decode/timestamp.hpp"
#include "version.hpp"

namespace ailog::cli {
namespace {

constexpr int kUsageError = 2;

const char* kServeExamples = R"(
Examples:
  # Serve /metrics on :7467 for a log file, reading it from the start
  ailog_exporter serve --start-at beginning /var/log/ai-service/app.log

  # Logs of a Kubernetes pod, through stdin
  kubectl logs -f deploy/ai-service | ailog_exporter serve -

  # Every pod's logs on a Kubernetes node, exact across restarts
  ailog_exporter serve --state.file /var/lib/ailog_exporter/state.json '/var/log/pods/*/*/*.log'

  # Docker json-file logs, listening on localhost only
  ailog_exporter serve --web.listen-address 127.0.0.1:7467 \
      '/var/lib/docker/containers/*/*-json.log'
)";

const CLI::Validator kDuration(
    [](std::string& s) -> std::string {
        return parse_duration_ms(s) ? std::string() : "not a duration such as 500ms, 15s, 10m or 1h30m: " + s;
    },
    "DURATION");

const CLI::Validator kTelemetryPath(
    [](std::string& s) -> std::string { return !s.empty() && s[0] == '/' ? std::string() : "must start with /"; },
    "PATH");

void add_common_options(CLI::App& app, CommonOptions& o) {
    app.add_option("--input.wrapper", o.wrapper, "Container wrapper of each line: detected per file, or forced")
        ->check(CLI::IsMember({"auto", "none", "docker", "cri"}))
        ->capture_default_str();
    app.add_option("--max-line-bytes", o.max_line_bytes, "Longer lines are skipped whole and counted")
        ->check(CLI::Range(size_t{64}, size_t{1} << 30))
        ->capture_default_str();
    app.add_option("--metrics.max-series", o.max_series,
                   "Most series the exported metrics may have; updates to new series beyond it are dropped and "
                   "counted")
        ->check(CLI::Range(size_t{1}, size_t{10000000}))
        ->capture_default_str();
    app.add_option("--correlation.max-entries", o.correlation_max_entries,
                   "Most open start entries remembered for failure durations and in-flight requests")
        ->check(CLI::Range(size_t{0}, size_t{100000000}))
        ->capture_default_str();
    app.add_option("--correlation.max-age", o.correlation_max_age,
                   "Start entries older than this without an end entry are forgotten (counted as evicted)")
        ->check(kDuration)
        ->capture_default_str();
    app.add_option("--input.timezone", o.input_timezone,
                   "Time zone of timestamps written without a zone or offset (\"2025-06-01 12:00:00.029\"): an IANA "
                   "name such as America/New_York, UTC, or Local (the TZ environment variable, else the system's "
                   "zone). Timestamps with Z or an offset, epoch numbers and Docker/CRI times are unaffected")
        ->capture_default_str();
    app.add_flag("--files.recursive", o.recursive, "Directories: also read the files of their subdirectories");
    app.add_option("--log.level", o.log_level, "Only log messages with the given severity or above")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->capture_default_str();
    app.add_option("--log.format", o.log_format, "Output format of log messages")
        ->check(CLI::IsMember({"logfmt", "json"}))
        ->capture_default_str();
}

void add_serve_options(CLI::App& serve, ServeOptions& o) {
    serve.add_option("PATH", o.paths, "Log files, directories, quoted glob patterns, or - for stdin")->required();
    serve
        .add_option("--web.listen-address", o.listen_address,
                    "Address to listen on for the web interface and telemetry (host:port; :port for all interfaces)")
        ->capture_default_str();
    serve.add_option("--web.telemetry-path", o.telemetry_path, "Path under which to expose metrics")
        ->check(kTelemetryPath)
        ->capture_default_str();
    serve.add_option("--start-at", o.start_at, "Where to start reading files present at start-up")
        ->check(CLI::IsMember({"beginning", "end"}))
        ->capture_default_str();
    serve.add_flag("--exit-on-eof", o.exit_on_eof,
                   "Read every input to its end once and exit, instead of following files and serving");
    serve.add_option("--state.file", o.state_file,
                     "Keep file positions, metric values and open requests here, so counters continue exactly "
                     "across restarts and crashes");
    serve.add_option("--state.interval", o.state_interval, "How often the state file is committed")
        ->check(kDuration)
        ->capture_default_str();
    serve
        .add_option("--files.rescan-interval", o.rescan_interval,
                    "How often paths are rescanned for new, rotated and removed files (besides inotify events)")
        ->check(kDuration)
        ->capture_default_str();
    add_common_options(serve, o);
    serve.footer(kServeExamples);
}

const char* kReplayExamples = R"(
Examples:
  # What did the last week cost, per capability and operation?
  ailog_exporter replay --from -7d /var/log/ai-service/

  # Backfill Prometheus with a rotated set (gzip is read transparently)
  ailog_exporter replay --output openmetrics -o history.om '/var/log/ai-service/app.log*'
  promtool tsdb create-blocks-from openmetrics history.om /var/lib/prometheus/metrics2
)";

const CLI::Validator kConstantLabel(
    [](std::string& s) -> std::string {
        std::string name, value;
        if (auto problem = parse_constant_label(s, name, value)) return *problem;
        return {};
    },
    "NAME=VALUE");

const CLI::Validator kTimeArg(
    [](std::string& s) -> std::string {
        return parse_time_arg(s, 0) ? std::string() : "not a time such as 2025-06-01T00:00:00Z, now or -7d: " + s;
    },
    "TIME");

void add_replay_options(CLI::App& replay, ReplayOptions& o) {
    replay.add_option("PATH", o.paths, "Log files (.gz too), directories, quoted glob patterns")->required();
    replay
        .add_option("--output", o.output,
                    "openmetrics (timestamped history for promtool), prometheus (final values), summary (a "
                    "table), json (the summary as JSON)")
        ->check(CLI::IsMember({"openmetrics", "prometheus", "summary", "json"}))
        ->capture_default_str();
    replay.add_option("-o,--output-file", o.output_file, "Write the output here instead of stdout");
    replay.add_option("--step", o.step, "openmetrics: one sample per series at every multiple of this")
        ->check(kDuration)
        ->capture_default_str();
    replay
        .add_option("--max-gap", o.max_gap,
                    "openmetrics: sample for at most this long after an entry; a longer silence is skipped and "
                    "sampling resumes one step before the next entry")
        ->check(kDuration)
        ->capture_default_str();
    replay
        .add_option("--label", o.labels,
                    "NAME=VALUE: a constant label on every replayed series, e.g. the job and instance of the live "
                    "scrape (repeatable)")
        ->check(kConstantLabel);
    replay.add_option("--from", o.from, "Only entries at or after this time (RFC 3339, or relative: -7d)")
        ->check(kTimeArg);
    replay
        .add_option("--to", o.to,
                    "Only entries at or before this time (RFC 3339, or relative: -1h). Entries later than the "
                    "replay's start are invalid (future) unless this is later")
        ->check(kTimeArg);
    replay.add_flag("-q,--quiet", o.quiet, "No progress bar on stderr");
    replay
        .add_option("--threads", o.threads,
                    "Decoding threads (0: one per core). Several files are decoded by the threads together, the "
                    "one merging them included; one file is read on a thread of its own and its JSON decoded on "
                    "this many threads")
        ->check(CLI::Range(0u, 1024u))
        ->capture_default_str();
    add_common_options(replay, o);
    replay.footer(kReplayExamples);
}

bool is_subcommand_or_top_flag(std::string_view a) {
    return a == "serve" || a == "replay" || a == "help" || a == "--help" || a == "-h" || a == "--version" || a == "-V";
}

}  // namespace

ParsedCommand parse_command_line(int argc, char** argv) {
    ParsedCommand result;
    CLI::App app{"ailog_exporter: Prometheus metrics from the JSON logs of an AI service, without touching it.",
                 "ailog_exporter"};
    app.set_version_flag("--version,-V", std::string("ailog_exporter ") + kVersion + " (" + kRevision + ")");
    app.require_subcommand(1, 1);
    app.footer("Without a subcommand, serve is assumed: ailog_exporter [serve] [OPTIONS] PATH...\n" +
               std::string(kServeExamples));
    CLI::App* serve = app.add_subcommand("serve", "Follow log files or stdin and serve their metrics over HTTP");
    add_serve_options(*serve, result.serve);
    CLI::App* replay = app.add_subcommand(
        "replay", "Read historic logs once: backfill data for Prometheus, final values, or a summary");
    add_replay_options(*replay, result.replay);

    // `ailog_exporter [options] PATH...` means serve.
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);  // CLI11 takes them reversed
    if (argc == 1 || !is_subcommand_or_top_flag(argv[1])) args.emplace_back("serve");

    try {
        app.parse(args);
    } catch (const CLI::CallForHelp& e) {
        result.exit_code = app.exit(e);
        return result;
    } catch (const CLI::CallForAllHelp& e) {
        result.exit_code = app.exit(e);
        return result;
    } catch (const CLI::CallForVersion& e) {
        result.exit_code = app.exit(e);
        return result;
    } catch (const CLI::ParseError& e) {
        const char* command = argc > 1 && std::string_view(argv[1]) == "replay" ? "replay" : "serve";
        std::cerr << "ailog_exporter: error: " << e.what() << "\nRun 'ailog_exporter " << command
                  << " --help' for the options.\n";
        result.exit_code = kUsageError;
        return result;
    }
    result.kind = replay->parsed() ? ParsedCommand::Kind::Replay : ParsedCommand::Kind::Serve;
    const char* zero = nullptr;
    if (result.kind == ParsedCommand::Kind::Replay && parse_duration_ms(result.replay.step).value_or(0) <= 0)
        zero = "--step";
    if (result.kind == ParsedCommand::Kind::Serve && parse_duration_ms(result.serve.state_interval).value_or(0) <= 0)
        zero = "--state.interval";
    if (zero != nullptr) {
        std::cerr << "ailog_exporter: error: " << zero << " must be longer than 0\n";
        result.kind = ParsedCommand::Kind::Exit;
        result.exit_code = kUsageError;
    }
    return result;
}

int startup_error(const std::string& message) {
    spdlog::error("{}", message);
    return kUsageError;
}

std::optional<std::string> parse_constant_label(const std::string& arg, std::string& name, std::string& value) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) return "not NAME=VALUE: " + arg;
    name = arg.substr(0, eq);
    value = arg.substr(eq + 1);
    const auto is_start = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    bool ok = !name.empty() && is_start(name[0]);
    for (char c : name) ok = ok && (is_start(c) || (c >= '0' && c <= '9'));
    if (!ok) return "not a label name ([a-zA-Z_][a-zA-Z0-9_]*): " + name;
    if (name.starts_with("__")) return "label names starting with __ are reserved: " + name;
    return std::nullopt;
}

std::optional<double> parse_time_arg(const std::string& s, double now_ms) {
    if (s == "now") return now_ms;
    if (!s.empty() && s[0] == '-') {
        const auto d = parse_duration_ms(std::string_view(s).substr(1));
        if (!d) return std::nullopt;
        return now_ms - *d;
    }
    return parse_iso8601_ms(s);
}

}  // namespace ailog::cli
