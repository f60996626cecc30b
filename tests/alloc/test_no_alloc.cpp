// The hot path allocates nothing once warm: every operator new in the
// process is counted while lines go through the whole pipeline.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <re2/re2.h>

#include "ailog/clock.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "config/mapping_loader.hpp"
#include "pipeline/pipeline.hpp"
#include "test_util.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

// GCC cannot see that these replacements pair malloc with free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}

using namespace ailog;

namespace {

struct FixedClock final : Clock {
    double now_ms() const override { return 1748779200000.0; }
};

std::vector<test::Padded> corpus(int calls, bool docker) {
    std::vector<test::Padded> lines;
    const char* caps[] = {"parse-task", "summarize", "classify"};
    for (int i = 0; i < calls; ++i) {
        const std::string id = fmt::format("req-{}", i % 500);
        const char* cap = caps[i % 3];
        const std::string ts =
            fmt::format("2025-06-01T12:{:02}:{:02}.{:03}Z", (i / 1000) % 60, (i / 17) % 60, i % 1000);
        std::vector<std::string> raw = {
            fmt::format(R"({{"level":"info","message":"executeParse - start","requestId":"{}","capability":"{}",)"
                        R"("operation":"core","input":"Buy milk","timestamp":"{}"}})",
                        id, cap, ts),
            i % 5 == 0
                ? fmt::format(
                      R"({{"level":"error","message":"executeParse - failed","requestId":"{}","capability":"{}",)"
                      R"("operation":"core","openaiErrorStatusCode":429,"timestamp":"{}"}})",
                      id, cap, ts)
                : fmt::format(R"({{"level":"info","message":"executeParse - succeeded","requestId":"{}",)"
                              R"("capability":"{}","operation":"core","result":{{"usage":{{"tokens":{{"input":{},)"
                              R"("output":7}}}},"durationMs":{}.5}},"timestamp":"{}"}})",
                              id, cap, i, i % 3000, ts),
            R"({"level":"info","message":"HTTP request","status":200})",
            "    at executeParse (/app/src/clients/openai/openai.ts:88:13)",
        };
        for (auto& r : raw) {
            if (docker) {
                std::string escaped;
                for (char c : r) {
                    if (c == '"' || c == '\\') escaped += '\\';
                    escaped += c;
                }
                r = R"({"log":")" + escaped + R"(\n","stream":"stdout","time":")" + ts + R"("})";
            }
            lines.emplace_back(r);
        }
    }
    return lines;
}

// The built-in mapping with each kind also told by conditions: an RE2
// pattern on the message, a prefix, one of several values.
Mapping with_conditions() {
    Mapping m = builtin_mapping();
    const int capability = 3;
    REQUIRE(m.fields[capability].name == "capability");
    for (auto& kind : m.kinds) {
        Condition re{m.message_field, Condition::Op::Matches, {"^executeParse - [a-z]+"}, nullptr};
        re.regex = std::make_shared<const re2::RE2>(re.values[0]);
        kind.conditions.push_back(re);
        kind.conditions.push_back({capability, Condition::Op::Prefix, {""}, nullptr});
        kind.conditions.push_back({capability, Condition::Op::OneOf, {"parse-task", "summarize", "classify"}, nullptr});
    }
    REQUIRE_FALSE(m.validate());
    return m;
}

// Allocations while the lines are read twice more, and the entries derived in all.
std::pair<long, uint64_t> allocations_for(bool docker, const Mapping& mapping = builtin_mapping()) {
    MetricStore store;
    FixedClock clock;
    Pipeline pipeline(mapping, store, clock, PipelineOptions{});
    const int source = pipeline.open_source("test");
    const auto lines = corpus(3000, docker);
    auto run = [&] {
        for (const auto& l : lines) pipeline.on_line(source, l.view(), l.capacity());
        pipeline.publish();
    };
    run();  // warm-up: series, tables and buffers reach their size
    const long before = g_allocations.load();
    run();
    run();
    const long after = g_allocations.load();
    CHECK(pipeline.stats().lines == 3 * lines.size());
    uint64_t entries = 0;
    for (uint64_t n : pipeline.deriver().stats().entries) entries += n;
    return {after - before, entries};
}

}  // namespace

TEST_CASE("plain lines: no allocation per line once warm") {
    CHECK(allocations_for(false).first == 0);
}

TEST_CASE("docker-wrapped lines: no allocation per line once warm") {
    CHECK(allocations_for(true).first == 0);
}

TEST_CASE("a mapping with conditions (an RE2 pattern among them): no allocation per line once warm") {
    const Mapping m = with_conditions();
    const auto [allocations, entries] = allocations_for(false, m);
    CHECK(allocations == 0);
    // The conditions hold for every entry: as many as without them.
    CHECK(entries > 0);
    CHECK(entries == allocations_for(false).second);
}

TEST_CASE("labels rewritten by RE2 patterns and bounded in their values: no allocation per line once warm") {
    Mapping m = builtin_mapping();
    // capability "parse-task" -> "parse-*"; at most 2 capabilities, the third becomes "other".
    for (auto& metric : m.metrics)
        for (auto& rule : metric.rules)
            for (auto& l : rule.labels)
                if (l.kind == LabelSource::Kind::Field && m.fields[static_cast<size_t>(l.index)].name == "capability") {
                    LabelRewrite r{"-[a-z]+$", "-*", nullptr};
                    r.regex = std::make_shared<const re2::RE2>(r.pattern);
                    l.replace.push_back(r);
                    l.max_values = 2;
                    l.overflow = "other";
                }
    REQUIRE_FALSE(m.validate());
    const auto [allocations, entries] = allocations_for(false, m);
    CHECK(allocations == 0);
    CHECK(entries == allocations_for(false).second);
}

TEST_CASE("a level, times read by a pattern, and fields kept from the start: no allocation per line once warm") {
    std::string yaml(builtin_mapping_yaml());
    auto replace = [&](const std::string& from, const std::string& to) {
        const auto at = yaml.find(from);
        REQUIRE(at != std::string::npos);
        yaml.replace(at, from.size(), to);
    };
    replace("time: [timestamp, time]\n", "time: {path: [timestamp, time], format: '%FT%T.%f%z'}\nlevel: level\n");
    replace("start: {message: executeParse - start, role: start}",
            "start: {message: executeParse - start, role: start, when: [{field: level, one_of: [info, debug]}]}");
    replace("correlation:\n  key: requestId\n",
            "correlation:\n  key: requestId\n  from_start: [capability, operation]\n");
    const Mapping m = load_mapping(yaml, "t.yml");
    const auto [allocations, entries] = allocations_for(false, m);
    CHECK(allocations == 0);
    CHECK(entries == allocations_for(false).second);
}

TEST_CASE("the counter works") {
    const long before = g_allocations.load();
    auto* p = new std::string(100, 'x');
    delete p;
    CHECK(g_allocations.load() > before);
}
