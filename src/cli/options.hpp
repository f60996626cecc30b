// Command-line options of every subcommand, and their parsing (CLI11).
#pragma once

#include <string>
#include <vector>

namespace ailog::cli {

inline constexpr const char* kDefaultListenAddress = ":7467";

struct ServeOptions {
    std::vector<std::string> paths;
    std::string listen_address = kDefaultListenAddress;
    std::string telemetry_path = "/metrics";
    std::string start_at = "end";
    std::string log_level = "info";
    std::string log_format = "logfmt";
    std::string wrapper = "auto";
    size_t max_line_bytes = 1 << 20;
    bool exit_on_eof = false;
    size_t max_series = 10000;
    size_t correlation_max_entries = 100000;
    std::string correlation_max_age = "10m";
    std::string state_file;
    std::string state_interval = "5s";
    bool recursive = false;
    std::string rescan_interval = "5s";
};

// What main() should do after parsing.
struct ParsedCommand {
    enum class Kind { Exit, Serve } kind = Kind::Exit;
    int exit_code = 0;
    ServeOptions serve;
};

// Parses argv; on --help/--version or an error, prints and returns Exit with
// the exit code (0, or 2 for a usage error).
ParsedCommand parse_command_line(int argc, char** argv);

}  // namespace ailog::cli
