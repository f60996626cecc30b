#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "decode/wrapper.hpp"
#include "test_util.hpp"

using namespace ailog;

namespace {

struct Out {
    std::vector<std::string> payloads;
    std::vector<std::optional<double>> times;
    std::vector<SkipReason> skips;
    std::vector<char> next_bytes;  // the byte after each payload, in the unwrapper's buffer
};

struct Feeder {
    explicit Feeder(WrapperKind k, size_t max_line = 1 << 20) : unwrapper(k, max_line) {}
    void operator()(std::string_view line) {
        test::Padded p(line);
        unwrapper.feed(
            parser, p.view(), p.capacity(),
            [&](const Payload& pl) {
                CHECK(pl.capacity >= pl.text.size() + simdjson::SIMDJSON_PADDING);
                out.payloads.emplace_back(pl.text);
                out.next_bytes.push_back(pl.text.data()[pl.text.size()]);
                out.times.push_back(pl.time.value());
            },
            [&](SkipReason r) { out.skips.push_back(r); });
    }
    simdjson::ondemand::parser parser;
    Unwrapper unwrapper;
    Out out;
};

}  // namespace

TEST_CASE("sniffing the wrapper from one line") {
    CHECK(sniff_wrapper(R"({"log":"{\"a\":1}\n","stream":"stdout","time":"2025-06-01T12:00:00.029123456Z"})") ==
          WrapperKind::Docker);
    CHECK(sniff_wrapper("2025-06-01T12:00:00.029000000Z stdout F {\"level\":30}") == WrapperKind::Cri);
    CHECK(sniff_wrapper("2025-06-01T12:00:00.029000000Z stderr P partial") == WrapperKind::Cri);
    CHECK(sniff_wrapper(R"({"level":"info","message":"x"})") == WrapperKind::None);
    CHECK(sniff_wrapper("2025-06-01 12:00:00 INFO stdout F") == WrapperKind::None);
}

TEST_CASE("docker: unescaped payload and the record's time") {
    Feeder f(WrapperKind::Auto);
    f(R"({"log":"{\"message\":\"executeParse - start\",\"input\":\"a\\\"b\"}\n","stream":"stdout","time":"2025-06-01T12:00:00.029123456Z"})");
    REQUIRE(f.out.payloads.size() == 1);
    CHECK(f.out.payloads[0] == R"({"message":"executeParse - start","input":"a\"b"})");
    REQUIRE(f.out.times[0]);
    CHECK(*f.out.times[0] == doctest::Approx(1748779200029.123456));
    CHECK(f.unwrapper.kind() == WrapperKind::Docker);
}

TEST_CASE("docker: split records are joined per stream, CRLF payload trimmed") {
    Feeder f(WrapperKind::Docker);
    f(R"({"log":"{\"message\":\"exec","stream":"stdout","time":"2025-06-01T12:00:00.000000001Z"})");
    f(R"({"log":"plain stderr line\n","stream":"stderr","time":"2025-06-01T12:00:00.000000002Z"})");
    f(R"({"log":"uteParse - start\"}\r\n","stream":"stdout","time":"2025-06-01T12:00:00.000000003Z"})");
    REQUIRE(f.out.payloads.size() == 2);
    CHECK(f.out.payloads[0] == "plain stderr line");
    CHECK(f.out.payloads[1] == R"({"message":"executeParse - start"})");
    CHECK(f.out.skips.empty());
}

TEST_CASE("docker: malformed records and an over-long joined entry") {
    Feeder f(WrapperKind::Docker, 10);
    f("not json at all");
    f(R"({"log":1,"stream":"stdout","time":"x"})");
    f(R"({"stream":"stdout"})");
    f(R"({"log":"abc\n","stream":"stdout"} trailing)");
    f(R"({"log":"123456","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    f(R"({"log":"789012\n","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    f(R"({"log":"ok\n","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    CHECK(f.out.skips == std::vector<SkipReason>{SkipReason::BadWrapper, SkipReason::BadWrapper, SkipReason::BadWrapper,
                                                 SkipReason::BadWrapper, SkipReason::TooLong});
    CHECK(f.out.payloads == std::vector<std::string>{"ok"});
}

TEST_CASE("docker: a record holding a whole entry: the line limit, CRLF, and a stream being joined") {
    Feeder f(WrapperKind::Docker, 10);
    f(R"({"log":"1234567890\n","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    f(R"({"log":"12345678901\n","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    f(R"({"log":"1234\\678\r\n","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    f(R"({"log":"ab","stream":"stderr","time":"2025-06-01T12:00:00Z"})");
    f(R"({"log":"\"c\"\n","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    f(R"({"log":"de\n","stream":"stderr","time":"2025-06-01T12:00:00Z"})");
    CHECK(f.out.skips == std::vector<SkipReason>{SkipReason::TooLong});
    CHECK(f.out.payloads == std::vector<std::string>{"1234567890", "1234\\678", "\"c\"", "abde"});
    for (char next : f.out.next_bytes) CHECK((next == '\n' || next == '\r'));
}

TEST_CASE("cri: F records, P partials joined per stream") {
    Feeder f(WrapperKind::Auto);
    f("2025-06-01T12:00:00.029000000Z stdout F {\"level\":30}");
    f("2025-06-01T12:00:00.030000000Z stdout P {\"msg\":\"execute");
    f("2025-06-01T12:00:00.031000000Z stderr F     at foo (bar.js:1:1)");
    f("2025-06-01T12:00:00.032000000Z stdout P Parse - ");
    f("2025-06-01T12:00:00.033000000Z stdout F start\"}");
    f("2025-06-01T12:00:00.034000000Z stdout F ");
    REQUIRE(f.out.payloads.size() == 4);
    CHECK(f.out.payloads[0] == "{\"level\":30}");
    CHECK(*f.out.times[0] == 1748779200029.0);
    CHECK(f.out.payloads[1] == "    at foo (bar.js:1:1)");
    CHECK(f.out.payloads[2] == "{\"msg\":\"executeParse - start\"}");
    CHECK(*f.out.times[2] == 1748779200033.0);
    CHECK(f.out.payloads[3].empty());
}

TEST_CASE("cri: a final record with no content ends a partial one (found by fuzz_pipeline)") {
    // "stdout F" with nothing after the tag: an empty piece, appended to the
    // partial entry without touching memory (UBSan: memcpy from null).
    Feeder f(WrapperKind::Cri);
    f("2025-06-01T12:00:00.000000000Z stdout P {\"message\":\"execute");
    f("2025-06-01T12:00:00.000000000Z stdout F");
    f("2025-06-01T12:00:00.000000000Z stdout P ");
    f("2025-06-01T12:00:00.000000000Z stdout F");
    REQUIRE(f.out.payloads.size() == 2);
    CHECK(f.out.payloads[0] == "{\"message\":\"execute");
    CHECK(f.out.payloads[1].empty());
}

TEST_CASE("cri: malformed records") {
    Feeder f(WrapperKind::Cri);
    f("2025-06-01T12:00:00.029000000Z stdout X payload");
    f("yesterday stdout F payload");
    f("2025-06-01T12:00:00.029000000Z stdlog F payload");
    f("2025-06-01T12:00:00.029000000Z");
    CHECK(f.out.skips.size() == 4);
    for (auto r : f.out.skips) CHECK(r == SkipReason::BadWrapper);
}

TEST_CASE("reset forgets partial records and the detected wrapper") {
    Feeder f(WrapperKind::Auto);
    f("2025-06-01T12:00:00.030000000Z stdout P {\"msg\":");
    f.unwrapper.reset(WrapperKind::Auto);
    CHECK(f.unwrapper.kind() == WrapperKind::Auto);
    f(R"({"message":"x"})");
    CHECK(f.out.payloads == std::vector<std::string>{R"({"message":"x"})"});
}

TEST_CASE("a joined entry is not affected by the bytes a longer earlier entry left in the buffer") {
    // simdjson re-checks bracket balance when the byte after the document is
    // '}'; an earlier, longer entry ending in '}' must not be seen there.
    Feeder f(WrapperKind::Docker);
    f(R"({"log":"{\"a\":\"xx\"}\n","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    f(R"({"log":"{\"a\":1}}}\n","stream":"stdout","time":"2025-06-01T12:00:00Z"})");
    REQUIRE(f.out.payloads.size() == 2);
    CHECK(f.out.payloads[1] == "{\"a\":1}}}");
    CHECK(f.out.next_bytes[1] == '\n');
}

TEST_CASE("Docker's own record shape is read directly, exactly as the JSON path reads it") {
    const std::string records[] = {
        R"({"log":"{\"message\":\"a\\\"b \u00e9 \ud83d\ude00 \/ \t\"}\n","stream":"stdout","time":"2025-06-01T12:00:00.029123456Z"})",
        R"({"log":"plain \u003cscript\u003e \u0026\r\n","stream":"stderr","time":"2025-06-01T12:00:00Z"})",
        R"({"log":"part","stream":"stdout","time":"2025-06-01T12:00:00Z"})",
    };
    std::vector<char> buf;
    for (const auto& r : records) {
        std::string_view log, stream, time;
        REQUIRE(parse_docker_record(r, buf, log, stream, time));
        // The general path, on the same record with its keys in another order.
        simdjson::ondemand::parser parser;
        simdjson::padded_string padded(r);
        auto doc = parser.iterate(padded);
        std::string_view expected;
        REQUIRE_FALSE(doc["log"].get_string().get(expected));
        CHECK(log == expected);
        CHECK((stream == "stdout" || stream == "stderr"));
        CHECK(time.starts_with("2025-06-01T12:00:00"));
    }
    std::string_view log, stream, time;
    CHECK_FALSE(parse_docker_record(R"({"stream":"stdout","log":"x\n","time":"t"})", buf, log, stream, time));
    CHECK_FALSE(parse_docker_record(R"({"log":"x\n","stream":"stdlog","time":"t"})", buf, log, stream, time));
    CHECK_FALSE(parse_docker_record(R"({"log":"bad \x escape","stream":"stdout","time":"t"})", buf, log, stream, time));
    CHECK_FALSE(parse_docker_record(R"({"log":"lone \udc00","stream":"stdout","time":"t"})", buf, log, stream, time));
    CHECK_FALSE(parse_docker_record(R"({"log":"x","stream":"stdout","time":"t"} trailing)", buf, log, stream, time));
    CHECK_FALSE(parse_docker_record(R"({"log":"unterminated)", buf, log, stream, time));
}

TEST_CASE("a partial record carried across a restart, joined or already over the limit") {
    Feeder before(WrapperKind::Cri, 40);
    before("2025-06-01T12:00:00.030000000Z stdout P {\"msg\":");
    before("2025-06-01T12:00:00.030000000Z stderr P " + std::string(30, 'e'));
    before("2025-06-01T12:00:00.030000000Z stderr P " + std::string(30, 'e'));
    CHECK(before.unwrapper.partial("stdout") == "{\"msg\":");
    CHECK_FALSE(before.unwrapper.partial_overlong("stdout"));
    CHECK(before.unwrapper.partial("stderr").empty());
    CHECK(before.unwrapper.partial_overlong("stderr"));

    Feeder after(WrapperKind::Cri, 40);
    for (const char* stream : {"stdout", "stderr"})
        after.unwrapper.set_partial(stream, before.unwrapper.partial(stream),
                                    before.unwrapper.partial_overlong(stream));
    after("2025-06-01T12:00:00.031000000Z stderr F tail");
    after("2025-06-01T12:00:00.031000000Z stdout F \"x\"}");
    CHECK(after.out.skips == std::vector<SkipReason>{SkipReason::TooLong});
    CHECK(after.out.payloads == std::vector<std::string>{"{\"msg\":\"x\"}"});
}

TEST_CASE("a self-contained Docker record unwraps the same on any Docker unwrapper") {
    const std::string t = R"(,"time":"2025-06-01T12:00:00.029Z"})";
    struct Case {
        std::string line;
        bool self_contained;
    };
    const Case cases[] = {
        {R"({"log":"{\"a\":1}\n","stream":"stdout")" + t, true},
        {R"({"log":"{\"a\":1}\r\n","stream":"stderr")" + t + " \t", true},
        {R"({"log":"\n","stream":"stdout")" + t, true},
        {R"({"log":"\\\n","stream":"stdout")" + t, true},       // a backslash, then the newline
        {R"({"log":"a\\n","stream":"stdout")" + t, false},      // a backslash and an n: a split record
        {R"({"log":"a\\\\\\n","stream":"stdout")" + t, false},  // three backslashes and an n
        {R"({"log":"part","stream":"stdout")" + t, false},
        {R"({"log":"x\n","stream":"stdlog")" + t, false},
        {R"({"log":"x\n","stream":"stdout","time":"2025\"x"})", false},
        {R"({"log":"x\n","stream":"stdout","time":"2025"}})", false},
        {R"( {"log":"x\n","stream":"stdout")" + t, false},             // not Docker's own shape
        {R"({"log":"bad \x escape\n","stream":"stdout")" + t, true},   // the shape holds; unwrapping rejects it
        {R"({"log":"x\n","stream":"stdout","time":"t"})" + t, false},  // trailing bytes
        {R"({"log":"x","other":"y\n","stream":"stdout")" + t, false},  // not Docker's keys
        {R"({"log":"x","stream":"stderr","time":"t"} \n","stream":"stdout")" + t, false},
        {R"({"log":"a \"quoted\" \\\"b\\\" \n","stream":"stdout")" + t, true},
    };
    Feeder quiet(WrapperKind::Docker);
    Feeder joining_stderr(WrapperKind::Docker);
    joining_stderr(R"({"log":"first part of stderr","stream":"stderr")" + t);
    REQUIRE(joining_stderr.unwrapper.partial("stderr") == "first part of stderr");
    for (const auto& c : cases) {
        CAPTURE(c.line);
        CHECK(quiet.unwrapper.self_contained(c.line) == c.self_contained);
        const bool on_stderr = c.line.find(R"("stream":"stderr")") != std::string::npos;
        CHECK(joining_stderr.unwrapper.self_contained(c.line) == (c.self_contained && !on_stderr));
        if (!c.self_contained) continue;
        // Fed to the unwrapper that judged it, or to a new one: the same outcome.
        Feeder fresh(WrapperKind::Docker);
        fresh(c.line);
        const size_t before = quiet.out.payloads.size(), skips_before = quiet.out.skips.size();
        quiet(c.line);
        CHECK(std::vector<std::string>(quiet.out.payloads.begin() + static_cast<std::ptrdiff_t>(before),
                                       quiet.out.payloads.end()) == fresh.out.payloads);
        CHECK(std::vector<SkipReason>(quiet.out.skips.begin() + static_cast<std::ptrdiff_t>(skips_before),
                                      quiet.out.skips.end()) == fresh.out.skips);
        CHECK(fresh.out.payloads.size() + fresh.out.skips.size() == 1);
        CHECK_FALSE(quiet.unwrapper.partial_overlong("stdout"));
        CHECK(quiet.unwrapper.partial("stdout").empty());
        CHECK(quiet.unwrapper.partial("stderr").empty());
    }
    // Escapes at every offset around the 64-byte blocks the log is scanned in:
    // an escaped backslash before an escaped quote leaves the string open,
    // an escaped backslash before a quote closes it.
    for (size_t k = 0; k < 140; ++k) {
        CAPTURE(k);
        const std::string pad(k, 'x');
        CHECK(quiet.unwrapper.self_contained(R"({"log":")" + pad + R"(\\\"\\\\\n","stream":"stdout")" + t));
        CHECK_FALSE(quiet.unwrapper.self_contained(R"({"log":")" + pad + R"(\\" \n","stream":"stdout")" + t));
        CHECK_FALSE(quiet.unwrapper.self_contained(R"({"log":")" + pad + R"(\\\\n","stream":"stdout")" + t));
    }
    // Only a Docker unwrapper passes records on.
    Feeder plain(WrapperKind::None), undetected(WrapperKind::Auto), cri(WrapperKind::Cri);
    for (Feeder* f : {&plain, &undetected, &cri}) CHECK_FALSE(f->unwrapper.self_contained(cases[0].line));
}
