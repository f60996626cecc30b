#include <doctest/doctest.h>

#include <re2/re2.h>

#include <string>
#include <vector>

#include "ailog/clock.hpp"
#include "config/mapping_loader.hpp"
#include "config/problems.hpp"
#include "decode/json_decoder.hpp"
#include "decode/line_decoder.hpp"
#include "test_util.hpp"

using namespace ailog;

namespace {

// A log with no fixed message: kinds told apart by conditions on its fields.
const char* kMapping = R"(message: [msg, message]
time: ts
fields:
  level: {path: level}
  route: {path: req.url}
  status: {path: res.status}
  trace: {path: trace.id}
  ms: {path: ms, type: number}
entries:
  slow_api:
    when:
      - {field: route, prefix: /api/}
      - {field: status, one_of: ["500", "503"]}
  job_done:
    message: job done
    when:
      - {field: level, equals: info}
  traced:
    when:
      - {field: message, matches: '^request [0-9]+ (ok|failed)$'}
      - {field: trace, exists: true}
  anything_else:
    when:
      - {field: level, exists: true}
metrics:
  - name: lines_total
    type: counter
    labels: [kind]
    updates:
      - entries: [slow_api]
        labels: {kind: {constant: slow_api}}
        value: 1
)";

// The kind each line is decoded as ("" when it is skipped).
std::vector<std::string> kinds_of(const Mapping& m, const std::vector<std::string>& lines) {
    SystemClock clock;
    PipelineStats stats;
    DecodeOptions options;
    options.wrapper = WrapperKind::None;
    LineDecoder decoder(m, clock, options, stats);
    const int source = decoder.open_source("t");
    std::vector<std::string> out;
    for (const auto& l : lines) {
        test::Padded p(l);
        std::string kind;
        decoder.decode(source, p.view(), p.capacity(),
                       [&](const Event& e) { kind = m.kinds[static_cast<size_t>(e.kind)].name; });
        out.push_back(kind);
    }
    return out;
}

}  // namespace

TEST_CASE("entry kinds by conditions: equals, one of, prefix, an RE2 pattern, exists; all must hold") {
    const Mapping m = load_mapping(kMapping, "t.yml");
    REQUIRE(m.kinds.size() == 4);
    CHECK(m.kinds[0].conditions.size() == 2);
    const std::vector<std::string> got =
        kinds_of(m, {
                        R"({"msg":"x","req":{"url":"/api/users/1"},"res":{"status":"503"}})",  // slow_api
                        R"({"msg":"x","req":{"url":"/api/users/1"},"res":{"status":"200"}})",  // not one of
                        R"({"msg":"x","req":{"url":"/web/users/1"},"res":{"status":"500"}})",  // not the prefix
                        R"({"msg":"job done","level":"info"})",                                // message and equals
                        R"({"msg":"job done","level":"debug"})",                         // equals fails: next kinds
                        R"({"message":"request 42 failed","trace":{"id":"t1"}})",        // matches and exists
                        R"({"message":"request 42 failed later","trace":{"id":"t1"}})",  // the pattern is anchored
                        R"({"message":"request 42 ok"})",                                // no trace
                        R"({"msg":"whatever"})",                                         // nothing holds
                    });
    const std::vector<std::string> want{"slow_api", "", "", "job_done", "anything_else", "traced", "", "", ""};
    CHECK(got == want);
}

TEST_CASE("a condition's mistakes are reported where they are") {
    using test::first_problem;
    const std::string head = "message: msg\nfields:\n  n: {path: n, type: number}\n  s: {path: s}\nentries:\n";
    CHECK(first_problem(head + "  a:\n    when:\n      - {field: s, matches: 'a(b'}\n") ==
          "t.yml:8:29: matches: missing ): a(b");
    CHECK(first_problem(head + "  a:\n    when:\n      - {field: n, equals: '1'}\n") ==
          "t.yml:8:17: field n is a number; a string is needed here");
    CHECK(first_problem(head + "  a:\n    when:\n      - {field: s, equal: x}\n") ==
          "t.yml:8:20: unknown key equal in a condition (did you mean equals?)");
    CHECK(first_problem(head + "  a:\n    when:\n      - {field: s, equals: x, prefix: y}\n")
              .starts_with("t.yml:8:9: a condition is a field and one of"));
    CHECK(first_problem(head + "  a: {role: start}\n") == "t.yml:6:6: message is required here");
    CHECK(first_problem(head + "  a:\n    when: []\n") ==
          "t.yml:7:11: when must be a list of conditions such as "
          "{field: level, equals: error}");
}

TEST_CASE("a line no kind takes: the closest kind and the first of its tests that failed") {
    const Mapping m = load_mapping(kMapping, "t.yml");
    auto why = [&](const std::string& line) {
        JsonDecoder decoder(m);
        test::Padded p(line);
        Event ev;
        REQUIRE(decoder.decode(p.view(), p.capacity(), ev) == SkipReason::NotMatched);
        return decoder.why_not_matched();
    };
    CHECK(why(R"({"msg":"x","req":{"url":"/api/users/1"},"res":{"status":"200"}})") ==
          R"(closest is slow_api, but status is "200", not one of 500, 503)");
    CHECK(why(R"({"msg":"x","req":{"url":"/web/users/1"},"res":{"status":"500"}})") ==
          R"(closest is slow_api, but route is "/web/users/1", which does not start with "/api/")");
    CHECK(
        why(R"({"message":"request 42 failed later","trace":{"id":"t1"}})") ==
        R"(closest is traced, but message is "request 42 failed later", which does not match ^request [0-9]+ (ok|failed)$)");
    CHECK(why(R"({"message":"request 42 ok"})") == "closest is traced, but trace is missing");
}

TEST_CASE("a pattern's remembered verdicts stay exact: many values, repeated, colliding in the memo") {
    const Mapping m = load_mapping(R"(message: msg
entries:
  even: {when: [{field: message, matches: '[02468]$'}]}
metrics: []
)",
                                   "t.yml");
    JsonDecoder decoder(m);
    const re2::RE2 re("[02468]$");
    for (int round = 0; round < 3; ++round)
        for (int i = 0; i < 500; ++i) {
            const std::string msg = "value " + std::to_string(i * 7919 % 1000);
            test::Padded p(R"({"msg":")" + msg + R"("})");
            Event ev;
            const auto skipped = decoder.decode(p.view(), p.capacity(), ev);
            CHECK(skipped.has_value() == !re2::RE2::PartialMatch(msg, re));
        }
}
