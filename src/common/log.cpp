// Logging set-up and the logfmt/JSON line formatters.
#include "common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>


namespace ailog {
namespace {

std::string_view level_name(spdlog::level::level_enum l) {
    switch (l) {
        case spdlog::level::trace:
            return "debug";
        case spdlog::level::debug:
            return "debug";
        case spdlog::level::info:
            return "info";
        case spdlog::level::warn:
            return "warn";
        case spdlog::level::err:
            return "error";
        case spdlog::level::critical:
            return "error";
        default:
            return "info";
    }
}

void append_time(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    fmt::format_to(std::back_inserter(dest), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

// Escapes for a double-quoted logfmt or JSON string (both accept \" \\ \n \t \uXXXX).
void append_quoted(std::string_view s, spdlog::memory_buf_t& dest) {
    dest.push_back('"');
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            dest.push_back('\\');
            dest.push_back(c);
        } else if (c == '\n') {
            dest.append(std::string_view("\\n"));
        } else if (c == '\t') {
            dest.append(std::string_view("\\t"));
        } else if (u < 0x20) {
            fmt::format_to(std::back_inserter(dest), "\\u{:04x}", u);
        } else {
            dest.push_back(c);
        }
    }
    dest.push_back('"');
}

class LineFormatter final : public spdlog::formatter {
public:
    explicit LineFormatter(LogFormat f) : format_(f) {}
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const std::string_view text(msg.payload.data(), msg.payload.size());
        if (format_ == LogFormat::Json) {
            dest.append(std::string_view("{\"ts\":\""));
            append_time(msg, dest);
            dest.append(std::string_view("\",\"level\":\""));
            dest.append(level_name(msg.level));
            dest.append(std::string_view("\",\"msg\":"));
            append_quoted(text, dest);
            dest.append(std::string_view("}\n"));
        } else {
            dest.append(std::string_view("ts="));
            append_time(msg, dest);
            dest.append(std::string_view(" level="));
            dest.append(level_name(msg.level));
            dest.append(std::string_view(" msg="));
            append_quoted(text, dest);
            dest.push_back('\n');
        }
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LineFormatter>(format_); }

private:
    LogFormat format_;
};

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view s) {
    return parse_choice(s, kLogFormatNames);
}

std::optional<LogLevel> parse_log_level(std::string_view s) {
    return parse_choice(s, kLogLevelNames);
}

void setup_logging(LogLevel level, LogFormat format) {
    auto logger = spdlog::stderr_logger_mt("ailog_exporter");
    logger->set_formatter(std::make_unique<LineFormatter>(format));
    constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
                                                     spdlog::level::err};
    logger->set_level(kLevels[static_cast<size_t>(level)]);
    logger->flush_on(spdlog::level::debug);
    spdlog::set_default_logger(logger);
}

}  // namespace ailog
