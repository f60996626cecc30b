// The command line: every subcommand's flags (CLI11), checked and turned
// into typed settings once, here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ailog/mapping.hpp"
#include "cli/settings.hpp"

namespace ailog::cli {

inline constexpr const char* kDefaultListenAddress = ":7467";

// The flags as written, with their defaults as text (shown by --help).
struct CommonFlags {
    std::vector<std::string> paths;
    std::string wrapper = "auto";
    size_t max_line_bytes = 1 << 20;
    size_t max_series = 10000;
    size_t correlation_max_entries = 100000;
    std::string correlation_max_age = "10m";
    std::string input_timezone = "Local";
    bool recursive = false;
    std::string log_level = "info";
    std::string log_format = "logfmt";
    std::string config_file;  // empty: the built-in mapping
};

struct ServeFlags : CommonFlags {
    std::string listen_address = kDefaultListenAddress;
    std::string telemetry_path = "/metrics";
    std::string start_at = "end";
    bool exit_on_eof = false;
    std::string state_file;
    std::string state_interval = "5s";
    std::string rescan_interval = "5s";
    bool enable_lifecycle = false;
    std::string web_config_file;  // empty: plain HTTP, no authentication
    unsigned max_connections = 1024;
    std::string request_timeout = "5s";
};

struct ReplayFlags : CommonFlags {
    std::string output = "summary";  // openmetrics, prometheus, summary, json
    std::string output_file;         // empty: stdout
    std::string step = "15s";
    std::string max_gap = "24h";
    std::vector<std::string> labels;  // NAME=VALUE
    std::string from;
    std::string to;
    bool quiet = false;
    unsigned threads = 0;  // 0: one per core
};

// What main() should do after parsing.
struct ParsedCommand {
    enum class Kind { Exit, Serve, Replay, CheckConfig, Explain } kind = Kind::Exit;
    int exit_code = 0;
    ServeSettings serve;
    ReplaySettings replay;
    CommonSettings explain;
    std::string check_config_file;
};

// Parses argv; on --help/--version or an error, prints and returns Exit with
// the exit code (0, or 2 for a usage error). Relative times (--from -7d)
// are taken from `now_ms`.
ParsedCommand parse_command_line(int argc, char** argv, double now_ms);

// The settings the flags say, or the problem with the first flag that is
// not what it should be ("--step: ...").
std::optional<std::string> to_settings(const ServeFlags& flags, ServeSettings& settings);
std::optional<std::string> to_settings(const ReplayFlags& flags, double now_ms, ReplaySettings& settings);

// Logs a start-up error and returns the exit code for it (2).
int startup_error(const std::string& message);

// The mapping of --config.file, else the built-in one; the problems, one
// FILE:LINE:COLUMN: message per line, when it does not load.
std::optional<std::string> load_config(const std::string& file, std::shared_ptr<const Mappings>& mappings);

// "NAME=VALUE" with a valid Prometheus label name; the problem otherwise.
std::optional<std::string> parse_constant_label(const std::string& arg, std::string& name, std::string& value);

// "2025-06-01T12:00:00Z", "now", or relative to now: "-7d", "-36h".
// Milliseconds since the epoch; nothing if not a time.
std::optional<double> parse_time_arg(const std::string& s, double now_ms);

}  // namespace ailog::cli
