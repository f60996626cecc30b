// Settings: what each command runs with, typed. Produced once, at the edge,
// from the command line (options.cpp); nothing below src/cli sees a flag's
// text. Durations are durations, addresses addresses, choices enums.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ailog/mapping.hpp"
#include "common/log.hpp"
#include "decode/line_decoder.hpp"
#include "derive/correlation.hpp"
#include "sink/http_server.hpp"

namespace ailog::cli {

using Duration = std::chrono::duration<double, std::milli>;

// What serve and replay share: how lines are read and decoded.
struct CommonSettings {
    std::vector<std::string> paths;  // files, directories, glob patterns; serve: "-" for stdin
    bool recursive = false;          // directories: their subdirectories too
    DecodeOptions decode;            // the wrapper, the line limit, the zone of zone-less timestamps
    size_t max_series = 10000;
    CorrelationTable::Limits correlation;
    LogLevel log_level = LogLevel::Info;
    LogFormat log_format = LogFormat::Logfmt;
    std::shared_ptr<const Mappings> mappings;  // how lines become metrics (--config.file)
    std::string config_file;                   // empty: the built-in mapping
};

struct ServeSettings : CommonSettings {
    ListenAddress listen;
    std::string telemetry_path = "/metrics";
    bool start_at_end = true;  // files present at start-up without a saved position
    bool exit_on_eof = false;
    std::string state_file;  // empty: none
    Duration state_interval{5000};
    Duration rescan_interval{5000};
    bool enable_lifecycle = false;  // POST /-/reload
    std::string web_config_file;    // empty: none
    WebConfig web;                  // TLS, basic auth, headers (--web.config.file)
    unsigned max_connections = 1024;
    Duration request_timeout{5000};
};

enum class ReplayOutput { OpenMetrics, Prometheus, Summary, Json };

struct ReplaySettings : CommonSettings {
    ReplayOutput output = ReplayOutput::Summary;
    std::string output_file;  // empty: stdout
    Duration step{15000};
    Duration max_gap{24 * 3600 * 1000.0};
    std::vector<std::pair<std::string, std::string>> labels;  // constant NAME, VALUE on every series
    std::optional<double> from_ms;                            // ms since the epoch
    std::optional<double> to_ms;
    bool quiet = false;
    unsigned threads = 0;  // 0: one per core
};

}  // namespace ailog::cli
