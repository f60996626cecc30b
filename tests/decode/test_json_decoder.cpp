#include <doctest/doctest.h>

#include <string>

#include "config/mapping_loader.hpp"
#include "ailog/mapping.hpp"
#include "decode/json_decoder.hpp"
#include "test_util.hpp"

using namespace ailog;

namespace {

// Field indices of the executeParse mapping, looked up by name so the tests
// do not depend on the table's order.
int field(const Mapping& m, std::string_view name) {
    for (size_t i = 0; i < m.fields.size(); ++i)
        if (m.fields[i].name == name) return static_cast<int>(i);
    FAIL("no field " << name);
    return -1;
}

struct Fixture {
    Mapping mapping = builtin_mapping();
    JsonDecoder decoder{mapping};
    Event ev;
    test::Padded padded{""};

    std::optional<SkipReason> decode(std::string_view line) {
        padded = test::Padded(line);
        return decoder.decode(padded.view(), padded.capacity(), ev);
    }
    std::string str(std::string_view name) {
        const auto& v = ev.fields[static_cast<size_t>(field(mapping, name))];
        REQUIRE(v.present);
        return std::string(v.str);
    }
    double num(std::string_view name) {
        const auto& v = ev.fields[static_cast<size_t>(field(mapping, name))];
        REQUIRE(v.present);
        return v.num;
    }
    bool has(std::string_view name) { return ev.fields[static_cast<size_t>(field(mapping, name))].present; }
    std::string kind() { return mapping.kinds[static_cast<size_t>(ev.kind)].name; }
};

const char* kWinstonSucceeded =
    R"({"level":"info","message":"executeParse - succeeded","requestId":"7d0c","capability":"parse-task",)"
    R"("operation":"core","input":"Buy milk","promptVersion":"v3","result":{"openaiResponseId":"resp_1",)"
    R"("output":{"title":"Buy milk"},"usage":{"tokens":{"input":812,"output":143}},"durationMs":1234},)"
    R"("timestamp":"2025-06-01T12:00:01.266Z"})";

}  // namespace

TEST_CASE_FIXTURE(Fixture, "winston succeeded entry") {
    REQUIRE_FALSE(decode(kWinstonSucceeded));
    CHECK(kind() == "succeeded");
    CHECK(str("capability") == "parse-task");
    CHECK(str("operation") == "core");
    CHECK(str("requestId") == "7d0c");
    CHECK(num("durationMs") == 1234);
    CHECK(num("tokens.input") == 812);
    CHECK(num("tokens.output") == 143);
    CHECK(ev.has_time);
    CHECK(ev.time_ms == 1748779201266.0);
}

TEST_CASE_FIXTURE(Fixture, "pino entry: msg, numeric level, epoch ms time, any key order") {
    REQUIRE_FALSE(decode(R"({"time":1748779200029,"operation":"subtasks","pid":7,"hostname":"h","level":30,)"
                         R"("capability":"summarize","requestId":"r-1","msg":"executeParse - start"})"));
    CHECK(kind() == "start");
    CHECK(str("capability") == "summarize");
    CHECK(ev.time_ms == 1748779200029.0);
}

TEST_CASE_FIXTURE(Fixture, "bunyan entry: msg and ISO time") {
    REQUIRE_FALSE(decode(R"({"name":"ai","hostname":"h","pid":1,"level":50,"msg":"executeParse - failed",)"
                         R"("requestId":"r","capability":"c","operation":"o","openaiErrorStatusCode":429,)"
                         R"("time":"2025-06-01T12:00:00.000Z","v":0})"));
    CHECK(kind() == "failed");
    CHECK(num("openaiErrorStatusCode") == 429);
    CHECK(ev.time_ms == 1748779200000.0);
}

TEST_CASE_FIXTURE(Fixture, "nested keys in any order, fractional duration, usage missing or null") {
    REQUIRE_FALSE(decode(R"({"result":{"durationMs":1234.56,"openaiResponseId":"x"},"capability":"c",)"
                         R"("message":"executeParse - succeeded","operation":"o"})"));
    CHECK(num("durationMs") == 1234.56);
    CHECK_FALSE(has("tokens.input"));
    CHECK_FALSE(ev.has_time);

    REQUIRE_FALSE(decode(R"({"message":"executeParse - succeeded","capability":"c","operation":"o",)"
                         R"("result":{"usage":null,"durationMs":5}})"));
    CHECK_FALSE(has("tokens.input"));
    CHECK(num("durationMs") == 5);
}

TEST_CASE_FIXTURE(Fixture, "only the real message key decides, not text inside other values") {
    CHECK(decode(R"({"message":"HTTP request","input":"executeParse - succeeded","capability":"c","operation":"o"})") ==
          SkipReason::NotMatched);
    CHECK(decode(R"({"message":"x","context":{"message":"executeParse - start"},"capability":"c","operation":"o"})") ==
          SkipReason::NotMatched);
    REQUIRE_FALSE(decode(R"({"message":"executeParse - start","input":"say \"executeParse - failed\"\n",)"
                         R"("capability":"c","operation":"o"})"));
    CHECK(kind() == "start");
}

TEST_CASE_FIXTURE(Fixture, "only whole keys match: not their prefixes, extensions or escaped spellings") {
    // Keys that share a first byte or a prefix with mapped ones, an empty
    // key, and a mapped key spelled with an escape: none of them is read.
    // The mapped keys come first, so that a decoy read by mistake would
    // overwrite them.
    REQUIRE_FALSE(decode(R"({"message":"executeParse - start","capability":"c","operation":"o",)"
                         R"("":"x","m":"executeParse - failed","mess":"executeParse - failed",)"
                         R"("messages":"executeParse - failed","msgs":"executeParse - failed",)"
                         R"("capabilit":"no","capabilityX":"no","operationsX":"no",)"
                         R"("oper\u0061tion":"no","\u006dessage":"executeParse - failed",)"
                         R"("r":{"durationMs":1},"results":{"durationMs":2}})"));
    CHECK(kind() == "start");
    CHECK(str("capability") == "c");
    CHECK(str("operation") == "o");
    CHECK_FALSE(has("durationMs"));
    // A short key at the very end of the document.
    CHECK(decode(R"({"message":"executeParse - start","capability":"c","operation":"o","t":1})") == std::nullopt);
    CHECK(decode(R"({"message":"executeParse - start","capability":"c","o":"o"})") == SkipReason::MissingField);
}

TEST_CASE_FIXTURE(Fixture, "winston's appended error text still matches; other suffixes do not") {
    REQUIRE_FALSE(decode(R"({"message":"executeParse - failed Request failed with status code 429",)"
                         R"("capability":"c","operation":"o"})"));
    CHECK(kind() == "failed");
    CHECK(decode(R"({"message":"executeParse - failedX","capability":"c","operation":"o"})") == SkipReason::NotMatched);
}

TEST_CASE_FIXTURE(Fixture, "escaped label values are unescaped") {
    REQUIRE_FALSE(decode(R"({"message":"executeParse - start","capability":"a\"b\\c\nd \u00e9 \ud83d\ude00",)"
                         R"("operation":"o"})"));
    CHECK(str("capability") == "a\"b\\c\nd \xC3\xA9 \xF0\x9F\x98\x80");
}

TEST_CASE_FIXTURE(Fixture, "skip reasons") {
    CHECK(decode("") == SkipReason::Empty);
    CHECK(decode("   ") == SkipReason::Empty);
    CHECK(decode("Server listening on port 3002") == SkipReason::NotJson);
    CHECK(decode("    at executeParse (/app/src/clients/openai/openai.ts:88:13)") == SkipReason::NotJson);
    CHECK(decode("2025-06-01 12:00:00 INFO started") == SkipReason::NotJson);
    CHECK(decode("nothing to see") == SkipReason::NotJson);
    CHECK(decode(std::string("\x00\x01\xfe\xff garbage", 13)) == SkipReason::NotJson);
    CHECK(decode(R"({"level":"info","message":"executeParse - start","requestId":"ab)") == SkipReason::InvalidJson);
    CHECK(decode(R"({"level":"info","message":"executeParse - start")") == SkipReason::InvalidJson);
    CHECK(decode(R"({"message":"executeParse - start","capability": })") == SkipReason::InvalidJson);
    CHECK(decode(R"({"message":"executeParse - start","capability":"c","operation":"o","x":[1,2})") ==
          SkipReason::InvalidJson);
    CHECK(decode("[1,2,3") == SkipReason::InvalidJson);
    CHECK(decode("{\"message\":\"bad \xff\xfe bytes\"}") == SkipReason::InvalidUtf8);
    CHECK(decode("[1,2,3]") == SkipReason::NotObject);
    CHECK(decode("\"a string\"") == SkipReason::NotObject);
    CHECK(decode("42") == SkipReason::NotObject);
    CHECK(decode("null") == SkipReason::NotObject);
    CHECK(decode(R"({"message":"executeParse - start","capability":"c","operation":"o"}})") ==
          SkipReason::TrailingContent);
    CHECK(decode(R"({"message":"executeParse - start","capability":"c","operation":"o"} {"x":1})") ==
          SkipReason::TrailingContent);
    for (const char* tail : {" 1", ",", "]", " null", " x", " \"s\"", " []", "}", " {\"x\":1}"}) {
        const std::string line =
            std::string(R"({"message":"executeParse - start","capability":"c","operation":"o"})") + tail;
        CHECK_MESSAGE(decode(line) == SkipReason::TrailingContent, line);
    }
    CHECK(decode(R"({"message":"executeParse - start","capability":"c","operation":"o",} x)") ==
          SkipReason::InvalidJson);
    CHECK(decode(R"({"message":"other"})") == SkipReason::NotMatched);
    CHECK(decode(R"({"message":"executeParse - start","operation":"o"})") == SkipReason::MissingField);
    CHECK(decode(R"({"message":"executeParse - start","capability":null,"operation":"o"})") ==
          SkipReason::MissingField);
    CHECK(decode(R"({"message":"executeParse - succeeded","capability":"c","operation":"o",)"
                 R"("result":{"durationMs":"1234"}})") == SkipReason::WrongType);
    CHECK(decode(R"({"message":"executeParse - succeeded","capability":7,"operation":"o"})") == SkipReason::WrongType);
    CHECK(decode(R"({"message":"executeParse - succeeded","capability":"c","operation":"o","result":"ok"})") ==
          SkipReason::WrongType);
    CHECK(decode(R"({"message":"executeParse - succeeded","capability":"c","operation":"o",)"
                 R"("result":{"usage":{"tokens":{"input":-5,"output":1}}}})") == SkipReason::InvalidValue);
}

TEST_CASE_FIXTURE(Fixture, "a wrong type only matters for a field the entry's kind reads") {
    // A start entry does not read result.durationMs.
    REQUIRE_FALSE(decode(R"({"message":"executeParse - start","capability":"c","operation":"o",)"
                         R"("result":{"durationMs":"soon"}})"));
    // Other JSON lines with odd types are just not entries.
    CHECK(decode(R"({"message":"cache hit","capability":5,"result":[]})") == SkipReason::NotMatched);
}

TEST_CASE_FIXTURE(Fixture, "surrounding whitespace, BOM and an unusable timestamp") {
    REQUIRE_FALSE(decode("  {\"message\":\"executeParse - start\",\"capability\":\"c\",\"operation\":\"o\"}  "));
    REQUIRE_FALSE(
        decode("\xEF\xBB\xBF{\"message\":\"executeParse - start\",\"capability\":\"c\",\"operation\":\"o\"}"));
    REQUIRE_FALSE(decode(R"({"message":"executeParse - start","capability":"c","operation":"o","timestamp":"soon"})"));
    CHECK_FALSE(ev.has_time);
}

TEST_CASE_FIXTURE(Fixture, "an invalid timestamp: no time, and why") {
    const std::string start = R"({"message":"executeParse - start","capability":"c","operation":"o",)";
    const std::pair<const char*, TimeError> cases[] = {
        {R"("time":1e300})", TimeError::OutOfRange},
        {R"("time":-1e300})", TimeError::OutOfRange},
        {R"("time":-1})", TimeError::OutOfRange},
        {R"("timestamp":"1969-12-31T23:59:59Z"})", TimeError::OutOfRange},
        {R"("timestamp":"2026-13-45T25:61:61Z"})", TimeError::Malformed},
        {R"("timestamp":"2025-06-01T12:00:00+99:99"})", TimeError::Malformed},
        {R"("timestamp":"soon"})", TimeError::Malformed},
    };
    for (const auto& [tail, why] : cases) {
        REQUIRE_FALSE(decode(start + tail));
        CHECK_FALSE(ev.has_time);
        CHECK(ev.time_error == static_cast<uint8_t>(why));
    }
    // A valid one clears what the line before left.
    REQUIRE_FALSE(decode(start + R"("time":1748779200000})"));
    CHECK(ev.has_time);
    CHECK(ev.time_error == 0);
    CHECK(ev.time_ms == 1748779200000.0);
}

TEST_CASE("zone-less timestamps are local time of the decoder's zone") {
    const Mapping mapping = builtin_mapping();
    std::string error;
    JsonDecoder decoder(mapping, TimeZone::locate("Asia/Kolkata", error));
    Event ev;
    test::Padded p(
        R"({"message":"executeParse - start","capability":"c","operation":"o","timestamp":"2025-06-01 17:30:00.250"})");
    REQUIRE_FALSE(decoder.decode(p.view(), p.capacity(), ev));
    CHECK(ev.time_ms == 1748779200250.0);  // 12:00:00.250Z
    test::Padded z(
        R"({"message":"executeParse - start","capability":"c","operation":"o","timestamp":"2025-06-01T12:00:00Z"})");
    REQUIRE_FALSE(decoder.decode(z.view(), z.capacity(), ev));
    CHECK(ev.time_ms == 1748779200000.0);
}

TEST_CASE_FIXTURE(Fixture, "earlier alternative path wins whatever the key order") {
    REQUIRE_FALSE(decode(R"({"time":1748779200000,"message":"executeParse - start","capability":"c","operation":"o",)"
                         R"("timestamp":"2025-06-01T12:00:05.000Z"})"));
    CHECK(ev.time_ms == 1748779205000.0);
}
