// Process logging: spdlog to stderr in logfmt or JSON, as Prometheus
// exporters do (--log.level, --log.format).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ailog {

enum class LogFormat { Logfmt, Json };

std::optional<LogFormat> parse_log_format(std::string_view s);
// debug, info, warn, error
bool valid_log_level(std::string_view s);

void setup_logging(std::string_view level, LogFormat format);

}  // namespace ailog
