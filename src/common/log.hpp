// Process logging: spdlog to stderr in logfmt or JSON, as Prometheus
// exporters do (--log.level, --log.format).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/choice.hpp"

namespace ailog {

enum class LogFormat { Logfmt, Json };
enum class LogLevel { Debug, Info, Warn, Error };

inline constexpr Choice<LogFormat> kLogFormatNames[] = {{"logfmt", LogFormat::Logfmt}, {"json", LogFormat::Json}};
inline constexpr Choice<LogLevel> kLogLevelNames[] = {
    {"debug", LogLevel::Debug}, {"info", LogLevel::Info}, {"warn", LogLevel::Warn}, {"error", LogLevel::Error}};

// logfmt, json
std::optional<LogFormat> parse_log_format(std::string_view s);
// debug, info, warn, error
std::optional<LogLevel> parse_log_level(std::string_view s);

void setup_logging(LogLevel level, LogFormat format);

}  // namespace ailog
