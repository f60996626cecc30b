#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ailog/clock.hpp"
#include "config/mapping_loader.hpp"
#include "config/problems.hpp"
#include "decode/line_decoder.hpp"
#include "decode/timestamp.hpp"
#include "test_util.hpp"

using namespace ailog;

namespace {

std::string mapping_with_time(const std::string& time) {
    return "message: msg\n" + time +
           "\nlevel: [level, severity]\n"
           "entries:\n"
           "  error: {message: done, when: [{field: level, equals: error}]}\n"
           "  other: {message: done}\n"
           "metrics: []\n";
}

struct Decoded {
    std::string kind;  // "" when skipped
    double time_ms = -1;
    bool has_time = false;
    std::string level;
};

Decoded decode(const Mapping& m, const std::string& line, const char* zone = "UTC") {
    SystemClock clock;
    PipelineStats stats;
    DecodeOptions options;
    options.wrapper = WrapperKind::None;
    std::string error;
    options.zone = TimeZone::locate(zone, error);
    REQUIRE(options.zone != nullptr);
    LineDecoder decoder(m, clock, options, stats);
    const int source = decoder.open_source("t");
    test::Padded p(line);
    Decoded out;
    int level = -1;
    for (size_t i = 0; i < m.fields.size(); ++i)
        if (m.fields[i].name == "level") level = static_cast<int>(i);
    decoder.decode(source, p.view(), p.capacity(), [&](const Event& e) {
        out.kind = m.kinds[static_cast<size_t>(e.kind)].name;
        out.time_ms = e.time_ms;
        out.has_time = e.has_time;
        if (level >= 0 && e.fields[static_cast<size_t>(level)].present)
            out.level = std::string(e.fields[static_cast<size_t>(level)].str);
    });
    return out;
}

}  // namespace

TEST_CASE("the time's form: epoch units said outright, numeric text, RFC 3339 only, a strftime pattern") {
    const double june1 = 1717243200000.0;  // 2024-06-01T12:00:00Z
    {
        const Mapping m = load_mapping(mapping_with_time("time: {path: ts, format: epoch_s}"), "t.yml");
        CHECK(decode(m, R"({"msg":"done","ts":1717243200.25})").time_ms == june1 + 250);
        CHECK(decode(m, R"({"msg":"done","ts":"1717243200"})").time_ms == june1);
        // Seconds even where a size-based guess would not say so: 1e11 s is year 5138.
        CHECK(decode(m, R"({"msg":"done","ts":100000000000})").time_ms == 1e14);
        CHECK_FALSE(decode(m, R"({"msg":"done","ts":"2024-06-01T12:00:00Z"})").has_time);
    }
    {
        const Mapping m = load_mapping(mapping_with_time("time: {path: ts, format: epoch_ms}"), "t.yml");
        // Auto would read 1717243200 as seconds; in ms it is 1970-01-20.
        CHECK(decode(m, R"({"msg":"done","ts":1717243200})").time_ms == 1717243200.0);
    }
    {
        const Mapping m = load_mapping(mapping_with_time("time: {path: ts, format: epoch_us}"), "t.yml");
        CHECK(decode(m, R"({"msg":"done","ts":1717243200000000})").time_ms == june1);
    }
    {
        const Mapping m = load_mapping(mapping_with_time("time: {path: ts, format: epoch_ns}"), "t.yml");
        CHECK(decode(m, R"({"msg":"done","ts":"1717243200000000000"})").time_ms == june1);
    }
    {
        const Mapping m = load_mapping(mapping_with_time("time: {path: ts, format: rfc3339}"), "t.yml");
        CHECK(decode(m, R"({"msg":"done","ts":"2024-06-01T14:00:00+02:00"})").time_ms == june1);
        CHECK_FALSE(decode(m, R"({"msg":"done","ts":1717243200})").has_time);
    }
    {
        const Mapping m = load_mapping(mapping_with_time("time: {path: ts, format: '%d/%b/%Y:%H:%M:%S %z'}"), "t.yml");
        CHECK(decode(m, R"({"msg":"done","ts":"01/Jun/2024:14:00:00 +0200"})").time_ms == june1);
        CHECK_FALSE(decode(m, R"({"msg":"done","ts":"2024-06-01T12:00:00Z"})").has_time);
        CHECK_FALSE(decode(m, R"({"msg":"done","ts":"31/Jun/2024:14:00:00 +0200"})").has_time);
    }
    {
        // A zone-less pattern is in the input's time zone: 08:00 in New York in June is 12:00 UTC.
        const Mapping m =
            load_mapping(mapping_with_time("time: {path: meta.when, format: '%Y-%m-%d %I:%M:%S.%f %p'}"), "t.yml");
        CHECK(decode(m, R"({"msg":"done","meta":{"when":"2024-06-01 08:00:00.5 AM"}})", "America/New_York").time_ms ==
              june1 + 500);
        CHECK(decode(m, R"({"msg":"done","meta":{"when":"2024-06-01 12:00:00.5 PM"}})").time_ms == june1 + 500);
    }
}

TEST_CASE("the level: a string, or pino's and bunyan's numbers by name, usable in conditions") {
    const Mapping m = load_mapping(mapping_with_time("time: ts"), "t.yml");
    CHECK(decode(m, R"({"msg":"done","level":50})").kind == "error");
    CHECK(decode(m, R"({"msg":"done","level":50})").level == "error");
    CHECK(decode(m, R"({"msg":"done","level":30})").level == "info");
    CHECK(decode(m, R"({"msg":"done","level":30})").kind == "other");
    CHECK(decode(m, R"({"msg":"done","severity":"error"})").kind == "error");  // the second key
    CHECK(decode(m, R"({"msg":"done","level":"ERROR"})").kind == "other");     // compared as written
    CHECK(decode(m, R"({"msg":"done","level":35})").level.empty());            // no name: not a level
}

TEST_CASE("the time's and level's mistakes") {
    using test::first_problem;
    CHECK(first_problem(mapping_with_time("time: {path: ts, format: epoch}"))
              .starts_with("t.yml:2:26: format must be auto, rfc3339, epoch_s"));
    CHECK(first_problem(mapping_with_time("time: {path: ts, format: '%Y-%m-%d %Q'}"))
              .starts_with("t.yml:2:26: format %Y-%m-%d %Q: unknown directive %Q"));
    CHECK(first_problem(mapping_with_time("time: {path: ts, format: '%H:%M:%S'}")) ==
          "t.yml:2:26: format %H:%M:%S: a time pattern needs a year, a month and a day (or %s)");
    CHECK(first_problem(mapping_with_time("time: {path: ts, format: '%F %I:%M'}")) ==
          "t.yml:2:26: format %F %I:%M: %I needs %p (AM or PM)");
    CHECK(first_problem(mapping_with_time("time: {path: ts, form: epoch_s}")) ==
          "t.yml:2:18: unknown key form in time (did you mean format?)");
    CHECK(first_problem(mapping_with_time("time: {format: epoch_s}")) ==
          "t.yml:2:7: time needs a path: a key or a list of keys");
    CHECK(first_problem("message: msg\nfields:\n  n: {path: n, type: number, format: epoch_s}\n"
                        "entries:\n  a: {message: a}\n") == "t.yml:3:38: only a timestamp field has a format");
}

TEST_CASE("a time pattern read on its own") {
    LocalTimeConverter utc;
    auto ms = [&](std::string_view s, std::string_view p) {
        const ParsedTime t = parse_time_pattern(s, p, &utc);
        return t.error == TimeError::None ? t.ms : -1.0;
    };
    CHECK(ms("2024-06-01T12:00:00Z", "%FT%T%z") == 1717243200000.0);
    CHECK(ms("Sat, 01 Jun 2024 12:00:00 +0000", "%a, %d %b %Y %T %z") == 1717243200000.0);
    CHECK(ms("June  1 2024 12:00:00", "%B %e %Y %T") == 1717243200000.0);  // %e and a run of spaces
    CHECK(ms("1717243200", "%s") == 1717243200000.0);
    CHECK(ms("1717243200.125", "%s.%f") == 1717243200125.0);
    CHECK(ms("24-06-01 00:00:00 -05:30", "%y-%m-%d %T %z") == 1717200000000.0 + 5.5 * 3600000);
    CHECK(ms("12:00:00 AM 2024-06-01", "%I:%M:%S %p %F") == 1717200000000.0);  // 12 AM is midnight
    CHECK(ms("2024-02-29 00:00:00", "%F %T") > 0);
    CHECK(ms("2023-02-29 00:00:00", "%F %T") == -1);  // no such day
    CHECK(ms("2024-06-01 24:00:00", "%F %T") == -1);
    CHECK(ms("2024-06-01 12:00:00 trailing", "%F %T") == -1);
    CHECK(ms("100%", "%F%%") == -1);
}
