// Command-line options of every subcommand, and their parsing (CLI11).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ailog::cli {

inline constexpr const char* kDefaultListenAddress = ":7467";

// Options serve and replay share: how lines are read and decoded.
struct CommonOptions {
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
};

struct ServeOptions : CommonOptions {
    std::string listen_address = kDefaultListenAddress;
    std::string telemetry_path = "/metrics";
    std::string start_at = "end";
    bool exit_on_eof = false;
    std::string state_file;
    std::string state_interval = "5s";
    std::string rescan_interval = "5s";
};

struct ReplayOptions : CommonOptions {
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
    enum class Kind { Exit, Serve, Replay } kind = Kind::Exit;
    int exit_code = 0;
    ServeOptions serve;
    ReplayOptions replay;
};

// Parses argv; on --help/--version or an error, prints and returns Exit with
// the exit code (0, or 2 for a usage error).
ParsedCommand parse_command_line(int argc, char** argv);

// Logs a start-up error and returns the exit code for it (2).
int startup_error(const std::string& message);

// "NAME=VALUE" with a valid Prometheus label name; the problem otherwise.
std::optional<std::string> parse_constant_label(const std::string& arg, std::string& name, std::string& value);

// "2025-06-01T12:00:00Z", "now", or relative to now: "-7d", "-36h".
// Milliseconds since the epoch; nothing if not a time.
std::optional<double> parse_time_arg(const std::string& s, double now_ms);

}  // namespace ailog::cli
