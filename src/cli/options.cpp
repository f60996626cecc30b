// CLI11 wiring: flags, help text with examples, and their conversion into
// settings; usage errors exit 2.
#include "cli/options.hpp"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <set>

#include <fmt/format.h>

#include "common/choice.hpp"
#include "common/duration.hpp"
#include "common/metric_names.hpp"
#include "config/mapping_loader.hpp"
#include "config/web_config.hpp"
#include "decode/timestamp.hpp"
#include "version.hpp"

namespace ailog::cli {
namespace {

constexpr int kUsageError = 2;

constexpr Choice<ReplayOutput> kReplayOutputNames[] = {{"openmetrics", ReplayOutput::OpenMetrics},
                                                       {"prometheus", ReplayOutput::Prometheus},
                                                       {"summary", ReplayOutput::Summary},
                                                       {"json", ReplayOutput::Json}};
constexpr Choice<bool> kStartAtNames[] = {{"beginning", false}, {"end", true}};

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

const CLI::Validator kTelemetryPath(
    [](std::string& s) -> std::string { return !s.empty() && s[0] == '/' ? std::string() : "must start with /"; },
    "PATH");

void add_common_options(CLI::App& app, CommonFlags& o) {
    app.add_option("--input.wrapper", o.wrapper, "Container wrapper of each line: detected per file, or forced")
        ->check(CLI::IsMember(choice_names(kWrapperNames)))
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
        ->type_name("DURATION")
        ->capture_default_str();
    app.add_option("--input.timezone", o.input_timezone,
                   "Time zone of timestamps written without a zone or offset (\"2025-06-01 12:00:00.029\"): an IANA "
                   "name such as America/New_York, UTC, or Local (the TZ environment variable, else the system's "
                   "zone). Timestamps with Z or an offset, epoch numbers and Docker/CRI times are unaffected")
        ->capture_default_str();
    app.add_flag("--files.recursive", o.recursive, "Directories: also read the files of their subdirectories");
    app.add_option("--config.file", o.config_file,
                   "A mapping file (YAML; docs/config.md): which lines are entries and which metrics they update. "
                   "Without it, the built-in executeParse mapping (examples/executeparse.yml)");
    app.add_option("--log.level", o.log_level, "Only log messages with the given severity or above")
        ->check(CLI::IsMember(choice_names(kLogLevelNames)))
        ->capture_default_str();
    app.add_option("--log.format", o.log_format, "Output format of log messages")
        ->check(CLI::IsMember(choice_names(kLogFormatNames)))
        ->capture_default_str();
}

void add_serve_options(CLI::App& serve, ServeFlags& o) {
    serve.add_option("PATH", o.paths, "Log files, directories, quoted glob patterns, or - for stdin")->required();
    serve
        .add_option("--web.listen-address", o.listen_address,
                    "Address to listen on for the web interface and telemetry (host:port; :port for all interfaces)")
        ->capture_default_str();
    serve.add_option("--web.telemetry-path", o.telemetry_path, "Path under which to expose metrics")
        ->check(kTelemetryPath)
        ->capture_default_str();
    serve.add_flag("--web.enable-lifecycle", o.enable_lifecycle,
                   "Reload the mapping file on POST /-/reload (as SIGHUP does)");
    serve.add_option("--web.config.file", o.web_config_file,
                     "A web configuration file (Prometheus exporter-toolkit format) enabling TLS, client "
                     "certificates and basic authentication");
    serve
        .add_option("--web.max-connections", o.max_connections,
                    "Connections served at once; more are closed as they come")
        ->check(CLI::Range(1u, 65536u))
        ->capture_default_str();
    serve
        .add_option("--web.request-timeout", o.request_timeout,
                    "A connection that sends or reads nothing for this long is closed (whole seconds)")
        ->type_name("DURATION")
        ->capture_default_str();
    serve.add_option("--start-at", o.start_at, "Where to start reading files present at start-up")
        ->check(CLI::IsMember(choice_names(kStartAtNames)))
        ->capture_default_str();
    serve.add_flag("--exit-on-eof", o.exit_on_eof,
                   "Read every input to its end once and exit, instead of following files and serving");
    serve.add_option("--state.file", o.state_file,
                     "Keep file positions, metric values and open requests here, so counters continue exactly "
                     "across restarts and crashes");
    serve.add_option("--state.interval", o.state_interval, "How often the state file is committed")
        ->type_name("DURATION")
        ->capture_default_str();
    serve
        .add_option("--files.rescan-interval", o.rescan_interval,
                    "How often paths are rescanned for new, rotated and removed files (besides inotify events)")
        ->type_name("DURATION")
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

void add_replay_options(CLI::App& replay, ReplayFlags& o) {
    replay.add_option("PATH", o.paths, "Log files (.gz too), directories, quoted glob patterns")->required();
    replay
        .add_option("--output", o.output,
                    "openmetrics (timestamped history for promtool), prometheus (final values), summary (a "
                    "table), json (the summary as JSON)")
        ->check(CLI::IsMember(choice_names(kReplayOutputNames)))
        ->capture_default_str();
    replay.add_option("-o,--output-file", o.output_file, "Write the output here instead of stdout");
    replay.add_option("--step", o.step, "openmetrics: one sample per series at every multiple of this")
        ->type_name("DURATION")
        ->capture_default_str();
    replay
        .add_option("--max-gap", o.max_gap,
                    "openmetrics: sample for at most this long after an entry; a longer silence is skipped and "
                    "sampling resumes one step before the next entry")
        ->type_name("DURATION")
        ->capture_default_str();
    replay
        .add_option("--label", o.labels,
                    "NAME=VALUE: a constant label on every replayed series, e.g. the job and instance of the live "
                    "scrape (repeatable)")
        ->type_name("NAME=VALUE");
    replay
        .add_option("--from", o.from,
                    "Only entries after this time (RFC 3339, or relative: -7d). The open starts of the "
                    "--correlation.max-age before it are followed, so that ends inside find their starts")
        ->type_name("TIME");
    replay
        .add_option(
            "--to", o.to,
            "Only entries at or before this time (RFC 3339, or relative: -1h): replays with --to T and "
            "--from T meet without a gap or an overlap. Entries later than the replay's start are invalid (future) "
            "unless this is later")
        ->type_name("TIME");
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
    return a == "serve" || a == "replay" || a == "check-config" || a == "explain" || a == "help" || a == "--help" ||
           a == "-h" || a == "--version" || a == "-V";
}

// The conversions of flag text into settings: each returns the problem,
// naming the flag, or nothing.
std::optional<std::string> to_duration(const char* flag, const std::string& text, bool positive, Duration& out) {
    const auto ms = parse_duration_ms(text);
    if (!ms) return fmt::format("{}: not a duration such as 500ms, 15s, 10m or 1h30m: {}", flag, text);
    if (positive && *ms <= 0) return fmt::format("{} must be longer than 0", flag);
    out = Duration(*ms);
    return std::nullopt;
}

template <typename T, typename Parse>
std::optional<std::string> to_choice(const char* flag, const std::string& text, Parse parse, T& out) {
    const std::optional<T> v = parse(text);
    if (!v) return fmt::format("{}: not one of the choices --help lists: {}", flag, text);
    out = *v;
    return std::nullopt;
}

std::optional<std::string> to_common(const CommonFlags& f, CommonSettings& s) {
    s.paths = f.paths;
    s.recursive = f.recursive;
    s.decode.max_line_bytes = f.max_line_bytes;
    s.max_series = f.max_series;
    s.correlation.max_entries = f.correlation_max_entries;
    Duration max_age;
    if (auto e = to_duration("--correlation.max-age", f.correlation_max_age, false, max_age)) return e;
    s.correlation.max_age_ms = max_age.count();
    if (auto e = to_choice("--input.wrapper", f.wrapper, parse_wrapper_kind, s.decode.wrapper)) return e;
    if (auto e = to_choice("--log.level", f.log_level, parse_log_level, s.log_level)) return e;
    if (auto e = to_choice("--log.format", f.log_format, parse_log_format, s.log_format)) return e;
    if (auto e = load_config(f.config_file, s.mappings)) return e;
    s.config_file = f.config_file;
    std::string problem;
    s.decode.zone = TimeZone::locate(f.input_timezone, problem);
    if (!s.decode.zone) return fmt::format("invalid --input.timezone \"{}\": {}", f.input_timezone, problem);
    return std::nullopt;
}

std::optional<ReplayOutput> parse_replay_output(std::string_view s) {
    return parse_choice(s, kReplayOutputNames);
}

std::optional<bool> parse_start_at_end(std::string_view s) {
    return parse_choice(s, kStartAtNames);
}

}  // namespace

std::optional<std::string> to_settings(const ServeFlags& f, ServeSettings& s) {
    if (auto e = to_common(f, s)) return e;
    try {
        s.listen = parse_listen_address(f.listen_address);
    } catch (const std::invalid_argument& e) {
        return fmt::format("invalid --web.listen-address \"{}\": {}", f.listen_address, e.what());
    }
    s.telemetry_path = f.telemetry_path;
    if (auto e = to_choice("--start-at", f.start_at, parse_start_at_end, s.start_at_end)) return e;
    s.exit_on_eof = f.exit_on_eof;
    s.state_file = f.state_file;
    if (auto e = to_duration("--state.interval", f.state_interval, true, s.state_interval)) return e;
    if (auto e = to_duration("--files.rescan-interval", f.rescan_interval, false, s.rescan_interval)) return e;
    s.enable_lifecycle = f.enable_lifecycle;
    s.max_connections = f.max_connections;
    if (auto e = to_duration("--web.request-timeout", f.request_timeout, true, s.request_timeout)) return e;
    if (s.request_timeout.count() < 1000 || s.request_timeout.count() > 3600 * 1000.0)
        return fmt::format("invalid --web.request-timeout \"{}\": between 1s and 1h", f.request_timeout);
    s.web_config_file = f.web_config_file;
    if (f.web_config_file.empty()) return std::nullopt;
    try {
        s.web = load_web_config_file(f.web_config_file);
    } catch (const ConfigError& e) {
        std::string text = fmt::format("--web.config.file {}: {} problem{}", f.web_config_file, e.problems().size(),
                                       e.problems().size() == 1 ? "" : "s");
        for (const auto& p : e.problems()) text += "\n" + p;
        return text;
    }
    return std::nullopt;
}

std::optional<std::string> to_settings(const ReplayFlags& f, double now_ms, ReplaySettings& s) {
    if (auto e = to_common(f, s)) return e;
    if (auto e = to_choice("--output", f.output, parse_replay_output, s.output)) return e;
    s.output_file = f.output_file;
    if (auto e = to_duration("--step", f.step, true, s.step)) return e;
    if (auto e = to_duration("--max-gap", f.max_gap, false, s.max_gap)) return e;
    std::set<std::string> names;
    for (const auto& l : f.labels) {
        std::string name, value;
        if (auto problem = parse_constant_label(l, name, value)) return "--label: " + *problem;
        if (!names.insert(name).second) return "--label " + name + " is given more than once";
        s.labels.emplace_back(std::move(name), std::move(value));
    }
    auto to_time = [&](const char* flag, const std::string& text,
                       std::optional<double>& out) -> std::optional<std::string> {
        if (text.empty()) return std::nullopt;
        out = parse_time_arg(text, now_ms);
        if (!out) return fmt::format("{}: not a time such as 2025-06-01T00:00:00Z, now or -7d: {}", flag, text);
        return std::nullopt;
    };
    if (auto e = to_time("--from", f.from, s.from_ms)) return e;
    if (auto e = to_time("--to", f.to, s.to_ms)) return e;
    if (s.from_ms && s.to_ms && *s.from_ms >= *s.to_ms) return "--from is not before --to";
    s.quiet = f.quiet;
    s.threads = f.threads;
    return std::nullopt;
}

ParsedCommand parse_command_line(int argc, char** argv, double now_ms) {
    ParsedCommand result;
    ServeFlags serve_flags;
    ReplayFlags replay_flags;
    CLI::App app{"ailog_exporter: Prometheus metrics from the JSON logs of an AI service, without touching it.",
                 "ailog_exporter"};
    app.set_version_flag("--version,-V", std::string("ailog_exporter ") + kVersion + " (" + kRevision + ")");
    app.require_subcommand(1, 1);
    app.footer("Without a subcommand, serve is assumed: ailog_exporter [serve] [OPTIONS] PATH...\n" +
               std::string(kServeExamples));
    CLI::App* serve = app.add_subcommand("serve", "Follow log files or stdin and serve their metrics over HTTP");
    add_serve_options(*serve, serve_flags);
    CLI::App* replay = app.add_subcommand(
        "replay", "Read historic logs once: backfill data for Prometheus, final values, or a summary");
    add_replay_options(*replay, replay_flags);
    CLI::App* check = app.add_subcommand(
        "check-config", "Check a mapping file: each metric it defines, or each mistake as FILE:LINE:COLUMN");
    check->add_option("FILE", result.check_config_file, "The mapping file (YAML)")->required();
    CommonFlags explain_flags;
    std::string explain_path = "-";
    CLI::App* explain = app.add_subcommand(
        "explain",
        "What the mapping makes of each line of FILE: its entry kind or why it is skipped, the fields "
        "read, and each series it updates");
    explain->add_option("FILE", explain_path, "A log file, or - for stdin")->capture_default_str();
    add_common_options(*explain, explain_flags);

    // `ailog_exporter [options] PATH...` means serve.
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);  // CLI11 takes them reversed
    if (argc == 1 || !is_subcommand_or_top_flag(argv[1])) args.emplace_back("serve");

    std::string_view command = "serve";
    if (argc > 1 && is_subcommand_or_top_flag(argv[1]) && argv[1][0] != '-' && std::string_view(argv[1]) != "help")
        command = argv[1];
    // Flags CLI11 cannot read come with a hint where to look; a value that
    // is not what it should be is named, on its own line.
    auto usage_error = [&](std::string_view message, bool hint) {
        std::cerr << "ailog_exporter: error: " << message << "\n";
        if (hint) std::cerr << "Run 'ailog_exporter " << command << " --help' for the options.\n";
        result.kind = ParsedCommand::Kind::Exit;
        result.exit_code = kUsageError;
        return result;
    };
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
        return usage_error(e.what(), true);
    }
    if (check->parsed()) {
        result.kind = ParsedCommand::Kind::CheckConfig;
    } else if (explain->parsed()) {
        result.kind = ParsedCommand::Kind::Explain;
        explain_flags.paths = {explain_path};
        if (auto problem = to_common(explain_flags, result.explain)) return usage_error(*problem, false);
    } else if (replay->parsed()) {
        result.kind = ParsedCommand::Kind::Replay;
        if (auto problem = to_settings(replay_flags, now_ms, result.replay)) return usage_error(*problem, false);
    } else {
        result.kind = ParsedCommand::Kind::Serve;
        if (auto problem = to_settings(serve_flags, result.serve)) return usage_error(*problem, false);
    }
    return result;
}

int startup_error(const std::string& message) {
    spdlog::error("{}", message);
    return kUsageError;
}

std::optional<std::string> load_config(const std::string& file, std::shared_ptr<const Mappings>& mappings) {
    try {
        mappings =
            std::make_shared<const Mappings>(file.empty() ? Mappings{builtin_mapping()} : load_mappings_file(file));
        return std::nullopt;
    } catch (const ConfigError& e) {
        std::string text = fmt::format("--config.file {}: {} problem{}", file.empty() ? "(built in)" : file,
                                       e.problems().size(), e.problems().size() == 1 ? "" : "s");
        for (const auto& p : e.problems()) text += "\n" + p;
        return text;
    }
}

std::optional<std::string> parse_constant_label(const std::string& arg, std::string& name, std::string& value) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) return "not NAME=VALUE: " + arg;
    name = arg.substr(0, eq);
    value = arg.substr(eq + 1);
    if (!valid_label_name(name)) return "not a label name ([a-zA-Z_][a-zA-Z0-9_]*): " + name;
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
