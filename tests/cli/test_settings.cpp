#include <doctest/doctest.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/options.hpp"

using namespace ailog;
using namespace ailog::cli;

namespace {

constexpr double kNow = 1.75e12;  // 2025-06-15T14:13:20Z

ParsedCommand parse(std::vector<std::string> args) {
    args.insert(args.begin(), "ailog_exporter");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), kNow);
}

}  // namespace

TEST_CASE("serve's flags become typed settings, defaults included") {
    const auto cmd = parse({"serve", "--web.listen-address", "localhost:0", "--state.interval", "1m30s",
                            "--files.rescan-interval", "250ms", "--correlation.max-age", "2h", "--input.wrapper", "cri",
                            "--start-at", "beginning", "--log.level", "debug", "--log.format", "json", "a.log"});
    REQUIRE(cmd.kind == ParsedCommand::Kind::Serve);
    const ServeSettings& s = cmd.serve;
    CHECK(s.listen.host == "127.0.0.1");
    CHECK(s.listen.port == 0);
    CHECK(s.state_interval.count() == 90000);
    CHECK(s.rescan_interval.count() == 250);
    CHECK(s.correlation.max_age_ms == 7200000);
    CHECK(s.decode.wrapper == WrapperKind::Cri);
    CHECK_FALSE(s.start_at_end);
    CHECK(s.log_level == LogLevel::Debug);
    CHECK(s.log_format == LogFormat::Json);
    CHECK(s.paths == std::vector<std::string>{"a.log"});
    REQUIRE(s.decode.zone != nullptr);

    // Without a subcommand, serve with its defaults.
    const auto plain = parse({"a.log"});
    REQUIRE(plain.kind == ParsedCommand::Kind::Serve);
    CHECK(plain.serve.listen.host == "0.0.0.0");
    CHECK(plain.serve.listen.port == 7467);
    CHECK(plain.serve.state_interval.count() == 5000);
    CHECK(plain.serve.correlation.max_age_ms == 600000);
    CHECK(plain.serve.start_at_end);
    CHECK(plain.serve.decode.wrapper == WrapperKind::Auto);
}

TEST_CASE("replay's flags become typed settings: times resolved against now, labels as pairs") {
    const auto cmd = parse({"replay",
                            "--output",
                            "openmetrics",
                            "--step",
                            "1m",
                            "--max-gap",
                            "1h",
                            "--from",
                            "-7d",
                            "--to",
                            "2025-06-15T00:00:00Z",
                            "--label",
                            "job=ailog",
                            "--label",
                            "instance=a:1",
                            "--threads",
                            "3",
                            "--input.timezone",
                            "America/New_York",
                            "x.log"});
    REQUIRE(cmd.kind == ParsedCommand::Kind::Replay);
    const ReplaySettings& s = cmd.replay;
    CHECK(s.output == ReplayOutput::OpenMetrics);
    CHECK(s.step.count() == 60000);
    CHECK(s.max_gap.count() == 3600000);
    CHECK(s.from_ms == kNow - 7 * 86400000.0);
    CHECK(s.to_ms == 1749945600000.0);
    const std::vector<std::pair<std::string, std::string>> labels{{"job", "ailog"}, {"instance", "a:1"}};
    CHECK(s.labels == labels);
    CHECK(s.threads == 3);
    REQUIRE(s.decode.zone != nullptr);
    CHECK(s.decode.zone->name() == "America/New_York");

    const auto plain = parse({"replay", "x.log"});
    REQUIRE(plain.kind == ParsedCommand::Kind::Replay);
    CHECK(plain.replay.output == ReplayOutput::Summary);
    CHECK_FALSE(plain.replay.from_ms);
    CHECK_FALSE(plain.replay.to_ms);
}

TEST_CASE("a flag that is not what it should be is one line on stderr naming it, and exit 2") {
    struct Case {
        std::vector<std::string> args;
        std::string message;  // after "ailog_exporter: error: "
    };
    const std::vector<Case> cases{
        {{"replay", "--step", "0s", "x"}, "--step must be longer than 0"},
        {{"replay", "--step", "fast", "x"}, "--step: not a duration"},
        {{"replay", "--max-gap", "1", "x"}, "--max-gap: not a duration"},
        {{"serve", "--state.interval", "0ms", "x"}, "--state.interval must be longer than 0"},
        {{"serve", "--files.rescan-interval", "often", "x"}, "--files.rescan-interval: not a duration"},
        {{"serve", "--correlation.max-age", "x", "x"}, "--correlation.max-age: not a duration"},
        {{"serve", "--web.listen-address", "7467", "x"}, "invalid --web.listen-address \"7467\""},
        {{"serve", "--input.timezone", "Mars/Olympus", "x"}, "invalid --input.timezone \"Mars/Olympus\""},
        {{"replay", "--label", "job", "x"}, "--label: not NAME=VALUE: job"},
        {{"replay", "--label", "__name__=x", "x"}, "--label: label names starting with __ are reserved: __name__"},
        {{"replay", "--label", "a=1", "--label", "a=2", "x"}, "--label a is given more than once"},
        {{"replay", "--from", "soon", "x"}, "--from: not a time"},
        {{"replay", "--from", "now", "--to", "-1h", "x"}, "--from is not before --to"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.message);
        std::ostringstream err;
        std::streambuf* was = std::cerr.rdbuf(err.rdbuf());
        const auto cmd = parse(c.args);
        std::cerr.rdbuf(was);
        CHECK(cmd.kind == ParsedCommand::Kind::Exit);
        CHECK(cmd.exit_code == 2);
        const std::string text = err.str();
        CHECK(text.starts_with("ailog_exporter: error: " + c.message));
        CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    }
}

TEST_CASE("the conversion names the flag in its message") {
    ReplayFlags f;
    f.paths = {"x"};
    ReplaySettings s;
    f.step = "0s";
    CHECK(to_settings(f, kNow, s).value_or("") == "--step must be longer than 0");
    f.step = "15s";
    f.to = "tomorrow";
    CHECK(to_settings(f, kNow, s).value_or("").starts_with("--to: not a time"));
    f.to = "";
    f.input_timezone = "Nowhere/Town";
    CHECK(to_settings(f, kNow, s).value_or("").starts_with("invalid --input.timezone \"Nowhere/Town\""));
    f.input_timezone = "UTC";
    CHECK_FALSE(to_settings(f, kNow, s));

    ServeFlags g;
    g.paths = {"x"};
    ServeSettings t;
    g.listen_address = "[::1]:x";
    CHECK(to_settings(g, t).value_or("").starts_with("invalid --web.listen-address \"[::1]:x\""));
    g.listen_address = "127.0.0.1:9";
    CHECK_FALSE(to_settings(g, t));
    CHECK(t.listen.text() == "127.0.0.1:9");
}
