#include <doctest/doctest.h>
#include <fmt/format.h>

#include <optional>
#include <string>

#include "config/mapping_loader.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "decode/json_decoder.hpp"
#include "derive/deriver.hpp"
#include "test_util.hpp"

using namespace ailog;

namespace {

struct Fixture {
    Mapping mapping = builtin_mapping();
    MetricStore store{1000};
    JsonDecoder decoder{mapping};
    Deriver deriver{mapping, store, {100, 600000}};
    uint32_t input = deriver.open_input("app.log");
    Event ev;

    // One entry of `in` (default: `input`), read at `read_ms` (default: its own time, as in a replay).
    void line(const std::string& json, std::optional<uint32_t> in = {}, std::optional<double> read_ms = {}) {
        test::Padded p(json);
        REQUIRE_FALSE(decoder.decode(p.view(), p.capacity(), ev));
        deriver.apply(ev, in.value_or(input), ev.time_ms, read_ms.value_or(ev.time_ms));
    }

    const MetricStore::Family& family(std::string_view name) {
        for (const auto& f : store.families())
            if (f->name == name) return *f;
        FAIL("no family " << name);
        throw 0;
    }
    const Series* series(std::string_view name, std::initializer_list<std::string_view> labels) {
        const auto& f = family(name);
        for (const auto& s : f.series)
            if (std::equal(s->label_values.begin(), s->label_values.end(), labels.begin(), labels.end()))
                return s.get();
        return nullptr;
    }
    double value(std::string_view name, std::initializer_list<std::string_view> labels) {
        const Series* s = series(name, labels);
        REQUIRE(s != nullptr);
        return s->value.load();
    }
    uint64_t bucket(std::string_view name, std::initializer_list<std::string_view> labels, size_t i) {
        const Series* s = series(name, labels);
        REQUIRE(s != nullptr);
        return s->buckets[i].load();
    }
};

std::string entry(const std::string& msg, const std::string& id, const std::string& ts, const std::string& extra = "") {
    return R"({"message":")" + msg + R"(","requestId":")" + id + R"(","capability":"parse-task","operation":"core",)" +
           (extra.empty() ? "" : extra + ",") + R"("timestamp":")" + ts + R"("})";
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "succeeded: count, duration from the entry, tokens") {
    line(entry("executeParse - start", "a", "2025-06-01T12:00:00.000Z"));
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 1);
    line(entry("executeParse - succeeded", "a", "2025-06-01T12:00:09.000Z",
               R"("result":{"durationMs":250,"usage":{"tokens":{"input":812,"output":143}}})"));
    CHECK(value("openai_api_requests_total", {"parse-task", "core", "success"}) == 1);
    CHECK(value("openai_api_tokens_total", {"parse-task", "core", "input"}) == 812);
    CHECK(value("openai_api_tokens_total", {"parse-task", "core", "output"}) == 143);
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "success"}) == 250);
    // 250 falls in the le=250 bucket (index 3), bounds are inclusive.
    CHECK(bucket("openai_api_request_duration_ms", {"parse-task", "core", "success"}, 3) == 1);
    CHECK(bucket("openai_api_request_duration_ms", {"parse-task", "core", "success"}, 2) == 0);
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 0);
    CHECK(deriver.stats().unmatched[1] == 0);
}

TEST_CASE_FIXTURE(Fixture, "failed: duration from the start of the same requestId, error type by status") {
    line(entry("executeParse - start", "b", "2025-06-01T12:00:00.100Z"));
    line(entry("executeParse - start", "c", "2025-06-01T12:00:00.200Z"));
    line(entry("executeParse - failed", "b", "2025-06-01T12:00:01.600Z", R"("openaiErrorStatusCode":429)"));
    CHECK(value("openai_api_requests_total", {"parse-task", "core", "failure"}) == 1);
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "failure"}) == 1500);
    CHECK(value("openai_api_request_errors_total", {"parse-task", "core", "RATE_LIMITED"}) == 1);
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 1);
    line(entry("executeParse - failed", "c", "2025-06-01T12:00:00.300Z"));
    CHECK(value("openai_api_request_errors_total", {"parse-task", "core", "INTERNAL"}) == 1);
    CHECK(bucket("openai_api_request_duration_ms", {"parse-task", "core", "failure"}, 2) == 1);  // 100 ms
}

TEST_CASE_FIXTURE(Fixture, "error types for every documented status") {
    const std::pair<int, const char*> cases[] = {
        {429, "RATE_LIMITED"},         {401, "UNAUTHORIZED"},         {403, "UNAUTHORIZED"},
        {400, "BAD_REQUEST"},          {404, "BAD_REQUEST"},          {422, "BAD_REQUEST"},
        {502, "PROVIDER_UNAVAILABLE"}, {503, "PROVIDER_UNAVAILABLE"}, {504, "PROVIDER_UNAVAILABLE"},
        {500, "PROVIDER_ERROR"},       {599, "PROVIDER_ERROR"},       {409, "OTHER"},
    };
    for (const auto& [status, type] : cases) {
        const double before = series("openai_api_request_errors_total", {"parse-task", "core", type})
                                  ? value("openai_api_request_errors_total", {"parse-task", "core", type})
                                  : 0;
        line(entry("executeParse - failed", "x", "2025-06-01T12:00:00.000Z",
                   R"("openaiErrorStatusCode":)" + std::to_string(status)));
        CHECK(value("openai_api_request_errors_total", {"parse-task", "core", type}) == before + 1);
    }
}

TEST_CASE_FIXTURE(Fixture, "an end without its start: counted, no failure duration, unmatched") {
    line(entry("executeParse - failed", "nope", "2025-06-01T12:00:00.000Z"));
    CHECK(value("openai_api_requests_total", {"parse-task", "core", "failure"}) == 1);
    CHECK(series("openai_api_request_duration_ms", {"parse-task", "core", "failure"}) == nullptr);
    CHECK(deriver.stats().unmatched[2] == 1);
    line(entry("executeParse - succeeded", "nope2", "2025-06-01T12:00:00.000Z", R"("result":{"durationMs":7})"));
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "success"}) == 7);
    CHECK(deriver.stats().unmatched[1] == 1);
}

TEST_CASE_FIXTURE(Fixture, "a succeeded entry without durationMs takes its duration from the start") {
    line(entry("executeParse - start", "d", "2025-06-01T12:00:00.000Z"));
    line(entry("executeParse - succeeded", "d", "2025-06-01T12:00:00.042Z"));
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "success"}) == 42);
}

TEST_CASE_FIXTURE(Fixture, "an end timestamped before its start observes no duration and is counted") {
    line(entry("executeParse - start", "e", "2025-06-01T12:00:01.000Z"));
    line(entry("executeParse - failed", "e", "2025-06-01T12:00:00.000Z"));
    CHECK(series("openai_api_request_duration_ms", {"parse-task", "core", "failure"}) == nullptr);
    CHECK(deriver.stats().negative_durations == 1);
    CHECK(value("openai_api_requests_total", {"parse-task", "core", "failure"}) == 1);
}

TEST_CASE_FIXTURE(Fixture, "bounded correlation: age and capacity evictions release in-flight") {
    line(entry("executeParse - start", "old", "2025-06-01T12:00:00.000Z"));
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 1);
    // 11 minutes later (max age 10 min), read 11 minutes later: the old start is forgotten.
    line(entry("executeParse - start", "new", "2025-06-01T12:11:00.000Z"));
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 1);
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Age)] == 1);
    line(entry("executeParse - failed", "old", "2025-06-01T12:11:01.000Z"));
    CHECK(deriver.stats().unmatched[2] == 1);

    for (int i = 0; i < 150; ++i) {
        line(entry("executeParse - start", fmt::format("s{}", i), "2025-06-01T12:11:02.000Z"));
    }
    CHECK(deriver.correlation().size() == 100);
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 100);
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Capacity)] == 51);
}

TEST_CASE_FIXTURE(Fixture, "a start's age is never log time against the read clock") {
    // The log is five hours behind the clock that reads it: only the
    // input's own clock and the read clock age its starts.
    const double now = 1748797200000.0;  // 2025-06-01T17:00:00Z
    line(entry("executeParse - start", "slow", "2025-06-01T12:00:00.000Z"), input, now);
    deriver.expire_read(now + 1000);  // an idle tick
    line(entry("executeParse - failed", "slow", "2025-06-01T12:00:02.000Z"), input, now + 2000);
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Age)] == 0);
    CHECK(deriver.stats().unmatched[2] == 0);
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "failure"}) == 2000);
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 0);
}

TEST_CASE_FIXTURE(Fixture, "an idle input's start is forgotten after max age on the read clock") {
    const double now = 1748797200000.0;
    line(entry("executeParse - start", "hung", "2025-06-01T12:00:00.000Z"), input, now);
    deriver.expire_read(now + 599000);
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 1);
    deriver.expire_read(now + 601000);
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 0);
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Age)] == 1);
    // An end written a few seconds later in the log but read after the silence is unmatched.
    line(entry("executeParse - failed", "hung", "2025-06-01T12:00:03.000Z"), input, now + 602000);
    CHECK(deriver.stats().unmatched[2] == 1);
}

TEST_CASE_FIXTURE(Fixture, "inputs keep their own clocks and their own correlation ids") {
    const uint32_t ahead = deriver.open_input("other-host.log");
    const double now = 1748779200000.0;
    // The same id in both inputs; the second input's clock is an hour ahead.
    line(entry("executeParse - start", "req-1", "2025-06-01T12:00:00.000Z"), input, now);
    line(entry("executeParse - start", "req-1", "2025-06-01T13:00:00.000Z"), ahead, now);
    line(entry("executeParse - start", "req-2", "2025-06-01T13:00:00.500Z"), ahead, now);
    line(entry("executeParse - failed", "req-1", "2025-06-01T13:00:01.000Z"), ahead, now);
    line(entry("executeParse - failed", "req-1", "2025-06-01T12:00:03.000Z"), input, now);
    CHECK(deriver.stats().evicted == std::array<uint64_t, 3>{0, 0, 0});
    CHECK(deriver.stats().unmatched[2] == 0);
    const Series* d = series("openai_api_request_duration_ms", {"parse-task", "core", "failure"});
    REQUIRE(d != nullptr);
    CHECK(d->value.load() == 1000 + 3000);
    // The input an hour ahead ages its own starts only.
    line(entry("executeParse - start", "req-3", "2025-06-01T12:00:04.000Z"), input, now);
    line(entry("executeParse - start", "req-4", "2025-06-01T13:11:00.000Z"), ahead, now);
    line(entry("executeParse - start", "req-5", "2025-06-01T13:11:01.000Z"), ahead, now);
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Age)] == 1);  // req-2, on its own clock
    line(entry("executeParse - failed", "req-3", "2025-06-01T12:00:05.000Z"), input, now);
    CHECK(deriver.stats().unmatched[2] == 0);
}

TEST_CASE_FIXTURE(Fixture, "an entry timestamped when read neither ages the input's starts nor mixes clocks") {
    const double now = 1748797200000.0;  // 2025-06-01T17:00:00Z; the log is five hours behind
    auto read_time_line = [&](const std::string& json) {
        test::Padded p(json);
        REQUIRE_FALSE(decoder.decode(p.view(), p.capacity(), ev));
        ev.has_time = false;
        ev.arrival_time = true;
        ev.time_ms = now;
        deriver.apply(ev, input, now, now);
    };
    line(entry("executeParse - start", "a", "2025-06-01T12:00:00.000Z"), input, now);
    read_time_line(R"({"message":"executeParse - start","requestId":"b","capability":"parse-task","operation":"core"})");
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Age)] == 0);
    line(entry("executeParse - failed", "a", "2025-06-01T12:00:02.000Z"), input, now);
    CHECK(deriver.stats().unmatched[2] == 0);
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "failure"}) == 2000);
    // The end of the start read without a time: matched, but no duration across two clocks.
    line(entry("executeParse - failed", "b", "2025-06-01T12:00:03.000Z"), input, now);
    CHECK(deriver.stats().unmatched[2] == 0);
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "failure"}) == 2000);
    CHECK(value("openai_api_requests_total", {"parse-task", "core", "failure"}) == 2);
    CHECK(value("openai_api_requests_in_flight", {"parse-task", "core"}) == 0);
}

TEST_CASE_FIXTURE(Fixture, "one stray timestamp far ahead does not age the input's open starts") {
    const double now = 1748779200000.0;  // every line read at the same moment, live
    line(entry("executeParse - start", "a", "2025-06-01T12:00:00.000Z"), input, now);
    line(entry("executeParse - succeeded", "x", "2099-01-01T00:00:00.000Z", R"("result":{"durationMs":7})"), input,
         now);
    line(entry("executeParse - failed", "a", "2025-06-01T12:00:01.500Z"), input, now);
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Age)] == 0);
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "failure"}) == 1500);
    // A clock that really moved on ages the starts at its second entry.
    line(entry("executeParse - start", "b", "2025-06-01T12:00:02.000Z"), input, now);
    line(entry("executeParse - start", "c", "2025-06-01T14:00:00.000Z"), input, now);
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Age)] == 0);
    line(entry("executeParse - start", "d", "2025-06-01T14:00:01.000Z"), input, now);
    CHECK(deriver.stats().evicted[static_cast<size_t>(EvictReason::Age)] == 1);
}

TEST_CASE_FIXTURE(Fixture, "an input closed with open starts keeps them until they end or age") {
    const uint32_t rotated = deriver.open_input("rotated.log");
    line(entry("executeParse - start", "r", "2025-06-01T12:00:00.000Z"), rotated);
    deriver.close_input(rotated);
    // The live file of the same set opens: the same input, the start still there.
    const uint32_t again = deriver.open_input("rotated.log");
    CHECK(again == rotated);
    line(entry("executeParse - failed", "r", "2025-06-01T12:00:01.000Z"), again);
    CHECK(deriver.stats().unmatched[2] == 0);
    CHECK(value("openai_api_request_duration_ms", {"parse-task", "core", "failure"}) == 1000);
}

TEST_CASE_FIXTURE(Fixture, "labels come from the start entry for in-flight, from each entry otherwise") {
    line(
        R"({"message":"executeParse - start","requestId":"f","capability":"a","operation":"x","timestamp":"2025-06-01T12:00:00.000Z"})");
    line(
        R"({"message":"executeParse - succeeded","requestId":"f","capability":"a","operation":"x","result":{"durationMs":1},"timestamp":"2025-06-01T12:00:00.001Z"})");
    CHECK(value("openai_api_requests_in_flight", {"a", "x"}) == 0);
    CHECK(value("openai_api_requests_total", {"a", "x", "success"}) == 1);
}

TEST_CASE("the executeParse mapping is valid, and validation catches mistakes") {
    Mapping m = builtin_mapping();
    CHECK_FALSE(m.validate());
    m.metrics[1].buckets = {5, 1};
    CHECK(m.validate());
    m = builtin_mapping();
    m.metrics[0].rules[0].labels.pop_back();
    CHECK(m.validate());
    m = builtin_mapping();
    m.correlation.in_flight_metric = 0;  // a counter
    CHECK(m.validate());
}

TEST_CASE("the fields read after decoding: labels, values, classifiers, correlation") {
    Mapping m = builtin_mapping();
    auto index = [&](std::string_view name) {
        for (size_t i = 0; i < m.fields.size(); ++i)
            if (m.fields[i].name == name) return static_cast<unsigned>(i);
        FAIL("no field " << name);
        return 0u;
    };
    uint32_t want = 0;
    for (auto name : {"requestId", "capability", "operation", "durationMs", "tokens.input", "tokens.output",
                      "openaiErrorStatusCode"})
        want |= 1u << index(name);
    CHECK(m.derived_fields() == want);  // not the message or the time
    m.metrics[0].rules[0].labels[0] = {LabelSource::Kind::Field, static_cast<int>(index("message")), {}, false, {}, 0, {}};
    CHECK(m.derived_fields() == (want | 1u << index("message")));
    m = builtin_mapping();
    m.correlation = {-1, -1, {}, {}, {}, {}};
    m.exemplars = {};            // the other reader of the request id
    m.metrics[3].rules.clear();  // the only reader of the status code
    CHECK(m.derived_fields() == (want & ~(1u << index("requestId")) & ~(1u << index("openaiErrorStatusCode"))));
}

TEST_CASE("label sets are told apart exactly, however many a rule sees") {
    Mapping mapping = builtin_mapping();
    MetricStore store{20000};
    JsonDecoder decoder{mapping};
    Deriver deriver{mapping, store, {100, 600000}};
    const uint32_t input = deriver.open_input("app.log");
    Event ev;
    auto apply = [&](const std::string& capability, const std::string& operation) {
        const std::string json = R"({"message":"executeParse - succeeded","capability":")" + capability +
                                 R"(","operation":")" + operation +
                                 R"(","result":{"durationMs":5},"timestamp":"2025-06-01T12:00:00Z"})";
        test::Padded p(json);
        REQUIRE_FALSE(decoder.decode(p.view(), p.capacity(), ev));
        deriver.apply(ev, input, ev.time_ms, ev.time_ms);
    };
    // Values that join to the same bytes, and share their first and last bytes.
    const std::pair<std::string, std::string> confusable[] = {
        {"ab", "c"}, {"a", "bc"}, {"abc", ""}, {"", "abc"}, {"parse-task-0123456789", "core"},
        {"parse-task-0123556789", "core"}};
    // More label sets than the deriver caches: every one twice, interleaved.
    const int many = 5000;
    for (int pass = 0; pass < 2; ++pass) {
        for (const auto& [c, o] : confusable) apply(c, o);
        for (int i = 0; i < many; ++i) apply(fmt::format("cap-{}", (i * 7919) % many), "core");
    }
    const MetricStore::Family* requests = nullptr;
    for (const auto& f : store.families())
        if (f->name == "openai_api_requests_total") requests = f.get();
    REQUIRE(requests != nullptr);
    CHECK(requests->series.size() == std::size(confusable) + many);
    for (const auto& s : requests->series) CHECK(s->value.load() == 2);
}
