#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ailog/clock.hpp"
#include "config/mapping_loader.hpp"
#include "replay/entry_stream.hpp"
#include "replay/event_batch.hpp"

using namespace ailog;
namespace fs = std::filesystem;

namespace {

// One line per call of every kind, with a few lines that are skipped on the way.
std::string history(const std::string& prefix, int calls, double t0) {
    std::string s;
    for (int i = 0; i < calls; ++i) {
        const double t = t0 + i * 1000;
        s += fmt::format(R"({{"message":"executeParse - start","requestId":"{}{}","capability":"parse-task",)"
                         R"("operation":"core","timestamp":{}}})"
                         "\n",
                         prefix, i, t);
        if (i % 3 == 0)
            s += fmt::format(R"({{"message":"executeParse - failed","requestId":"{}{}","capability":"parse-task",)"
                             R"("operation":"core","openaiErrorStatusCode":429,"timestamp":{}}})"
                             "\n",
                             prefix, i, t + 300);
        else
            s += fmt::format(R"({{"message":"executeParse - succeeded","requestId":"{}{}","capability":"chat",)"
                             R"("operation":"core","duration":{},"result":{{"usage":{{"tokens":{{"input":{},)"
                             R"("output":7}}}}}},"timestamp":{}}})"
                             "\n",
                             prefix, i, 100 + i, i, t + 500);
        if (i % 50 == 0) s += "not json\n{\"message\":\"executeParse - succeeded\"}\n";
        if (i % 70 == 0) s += fmt::format("{{\"message\":\"{}\"}}\n", std::string(300, 'x'));  // over --max-line-bytes
    }
    return s;
}

// Every entry a stream yields, rendered, and its totals.
struct Read {
    std::vector<std::string> entries;  // per stream, in the stream's order
    PipelineStats stats;
};

// The entry as the pipeline reads it: kind, time and the fields read after
// decoding (the ones a batch carries between threads).
std::string render(const Event& e, double time_ms, uint32_t derived) {
    std::string s = fmt::format("{}@{}", e.kind, time_ms);
    for (size_t i = 0; i < e.fields.size(); ++i)
        if (e.fields[i].present && (derived & (1u << i)) != 0)
            s += fmt::format(" {}={}/{}", i, e.fields[i].str, e.fields[i].num);
    return s;
}

Read read_all(unsigned threads, const std::vector<RotatedSet>& sets, const Mapping& mapping) {
    SystemClock clock;
    DecodeOptions options;
    options.arrival_time_fallback = false;
    options.max_line_bytes = 256;
    Read r;
    auto streams = make_entry_streams(threads, sets, std::span<const Mapping>(&mapping, 1), clock, options, r.stats);
    for (size_t i = 0; i < streams.size(); ++i)
        while (streams[i]->advance())
            r.entries.push_back(fmt::format(
                "{}: {}", i, render(*streams[i]->head, streams[i]->head_time_ms, mapping.derived_fields())));
    for (const auto& s : streams) s->add_totals(r.stats);
    return r;
}

void check_same(const Read& a, const Read& b) {
    CHECK(a.entries == b.entries);
    CHECK(a.stats.lines == b.stats.lines);
    CHECK(a.stats.bytes == b.stats.bytes);
    CHECK(a.stats.skipped == b.stats.skipped);
    CHECK(a.stats.invalid_timestamps == b.stats.invalid_timestamps);
    CHECK(a.stats.entries_without_time == b.stats.entries_without_time);
}

struct Files {
    Files() : dir(fs::temp_directory_path() / ("ailog-streams-" + std::to_string(::getpid()))) {
        fs::create_directories(dir);
    }
    ~Files() { fs::remove_all(dir); }
    RotatedSet set(const std::string& name, const std::string& text) {
        const fs::path p = dir / name;
        std::ofstream(p) << text;
        return RotatedSet{p.string(), {p.string()}, static_cast<uint64_t>(text.size())};
    }
    fs::path dir;
};

}  // namespace

TEST_CASE("one set: decoded on the calling thread or on several, the same entries in the same order") {
    const Mapping m = builtin_mapping();
    Files files;
    // Several of ParallelStream's chunks (256 KiB, 2048 payloads each).
    const std::vector<RotatedSet> sets{files.set("a.log", history("a", 6000, 1.7e12))};
    const Read direct = read_all(1, sets, m);
    REQUIRE(direct.entries.size() == 12000);
    CHECK(direct.stats.skipped[static_cast<size_t>(SkipReason::TooLong)] == 86);
    for (unsigned threads : {2u, 3u, 8u}) {
        CAPTURE(threads);
        check_same(read_all(threads, sets, m), direct);
    }
}

TEST_CASE("several sets: decoded on the calling thread or by shared threads, each set's entries in its order") {
    const Mapping m = builtin_mapping();
    Files files;
    const std::vector<RotatedSet> sets{files.set("a.log", history("a", 3000, 1.7e12)),
                                       files.set("b.log", history("b", 10, 1.7e12 + 1)), files.set("c.log", ""),
                                       files.set("d.log", history("d", 4000, 1.6e12))};
    const Read direct = read_all(1, sets, m);
    REQUIRE(direct.entries.size() == 2 * (3000 + 10 + 4000));
    for (unsigned threads : {2u, 3u, 5u, 16u}) {
        CAPTURE(threads);
        check_same(read_all(threads, sets, m), direct);
    }
}

TEST_CASE("an event batch gives back the fields read after decoding, and only those") {
    const Mapping m = builtin_mapping();
    EventBatch batch(m, 4);
    Event in;
    in.kind = 1;
    in.time_ms = 1.7e12 + 0.5;
    in.fold_ms = 3600000;
    const uint32_t kept = m.derived_fields();
    for (size_t i = 0; i < m.fields.size(); ++i) {
        in.fields[i].present = true;
        if (m.fields[i].type == FieldType::String)
            in.fields[i].str = m.fields[i].name;
        else
            in.fields[i].num = static_cast<double>(i) + 0.25;
    }
    batch.append(in);
    batch.append(Event{});
    REQUIRE(batch.size() == 2);
    Event out;
    batch.load(0, out);
    CHECK(out.kind == 1);
    CHECK(out.time_ms == in.time_ms);
    CHECK(out.fold_ms == in.fold_ms);
    CHECK(out.has_time);
    for (size_t i = 0; i < m.fields.size(); ++i) {
        CAPTURE(m.fields[i].name);
        const bool is_kept = (kept & (1u << i)) != 0;
        CHECK(out.fields[i].present == is_kept);
        if (!is_kept) continue;
        if (m.fields[i].type == FieldType::String)
            CHECK(out.fields[i].str == m.fields[i].name);
        else
            CHECK(out.fields[i].num == in.fields[i].num);
    }
    batch.load(1, out);
    for (size_t i = 0; i < m.fields.size(); ++i) CHECK_FALSE(out.fields[i].present);
    batch.clear();
    CHECK(batch.size() == 0);
    CHECK(batch.arena_bytes() == 0);
}
