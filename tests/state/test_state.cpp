#include <doctest/doctest.h>

#include <string>

#include "state/state.hpp"

using namespace ailog;

namespace {

State sample_state() {
    State s;
    s.written_at_ms = 1795431490457.5;
    s.last_entry_ms = 1795431490000;
    FileState f;
    f.path = "/var/log/app/\"quoted\" name.log";
    f.dev = 2049;
    f.ino = 1234567;
    f.fingerprint_len = 256;
    f.fingerprint = 0xfedcba9876543210ull;
    f.deep_len = 65536;
    f.deep_fingerprint = 0x1ull;
    f.offset = 3015;
    f.mid_line = true;
    f.wrapper = "cri";
    f.partial_stdout = std::string("{\"msg\":\0\xff", 9);
    f.overlong_stderr = true;
    s.files.push_back(f);
    FamilyState fam;
    fam.name = "openai_api_request_duration_ms";
    fam.series.push_back({{"parse", "op\nwith newline"}, 1234.5, {1, 2, 3}});
    s.families.push_back(fam);
    s.open_starts.push_back({0xabcull,
                             0xdefull,
                             1795431490001.0,
                             "/var/log/pods/ns_p_1/c/0.log",
                             {"parse", "op"},
                             true,
                             {{"method", "GET"}, {"url", "/a?b=\"c\""}},
                             "http"});
    s.open_starts.push_back({1, 2, 3, "-", {}, false, {}, ""});
    s.counters.push_back({"lines_read", 40000});
    return s;
}

}  // namespace

TEST_CASE("a state survives serialisation exactly, flags and binary partial records included") {
    const State in = sample_state();
    const State out = parse_state(serialize_state(in));
    CHECK(out.written_at_ms == in.written_at_ms);
    CHECK(out.last_entry_ms == in.last_entry_ms);
    REQUIRE(out.files.size() == 1);
    const FileState& a = in.files[0];
    const FileState& b = out.files[0];
    CHECK(b.path == a.path);
    CHECK(b.dev == a.dev);
    CHECK(b.ino == a.ino);
    CHECK(b.fingerprint_len == a.fingerprint_len);
    CHECK(b.fingerprint == a.fingerprint);
    CHECK(b.deep_len == a.deep_len);
    CHECK(b.deep_fingerprint == a.deep_fingerprint);
    CHECK(b.offset == a.offset);
    CHECK(b.mid_line);
    CHECK(b.wrapper == "cri");
    CHECK(b.partial_stdout == a.partial_stdout);
    CHECK(b.partial_stderr.empty());
    CHECK_FALSE(b.overlong_stdout);
    CHECK(b.overlong_stderr);
    REQUIRE(out.families.size() == 1);
    CHECK(out.families[0].name == in.families[0].name);
    REQUIRE(out.families[0].series.size() == 1);
    CHECK(out.families[0].series[0].labels == in.families[0].series[0].labels);
    CHECK(out.families[0].series[0].value == 1234.5);
    CHECK(out.families[0].series[0].buckets == std::vector<uint64_t>{1, 2, 3});
    REQUIRE(out.open_starts.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
        CHECK(out.open_starts[i].key_a == in.open_starts[i].key_a);
        CHECK(out.open_starts[i].key_b == in.open_starts[i].key_b);
        CHECK(out.open_starts[i].start_ms == in.open_starts[i].start_ms);
    }
    CHECK(out.open_starts[0].key_a == 0xabc);
    CHECK(out.open_starts[0].key_b == 0xdef);
    CHECK(out.open_starts[0].start_ms == 1795431490001.0);
    CHECK(out.open_starts[0].has_in_flight);
    CHECK(out.open_starts[0].in_flight_labels == std::vector<std::string>{"parse", "op"});
    CHECK(out.open_starts[0].input == "/var/log/pods/ns_p_1/c/0.log");
    CHECK(out.open_starts[0].from_start ==
          std::vector<std::pair<std::string, std::string>>{{"method", "GET"}, {"url", "/a?b=\"c\""}});
    CHECK(out.open_starts[1].from_start.empty());
    CHECK(out.open_starts[1].input == "-");
    CHECK(out.open_starts[0].mapping == "http");
    CHECK(out.open_starts[1].mapping.empty());
    CHECK_FALSE(out.open_starts[1].has_in_flight);
    REQUIRE(out.counters.size() == 1);
    CHECK(out.counters[0].name == "lines_read");
    CHECK(out.counters[0].value == 40000);
}

TEST_CASE("a file entry without the line and record flags reads them as false") {
    std::string json = serialize_state(sample_state());
    for (const char* key : {"\"mid_line\":true,", ",\"overlong_stdout\":false", ",\"overlong_stderr\":true"}) {
        const auto at = json.find(key);
        REQUIRE(at != std::string::npos);
        json.erase(at, std::string(key).size());
    }
    const State out = parse_state(json);
    REQUIRE(out.files.size() == 1);
    CHECK_FALSE(out.files[0].mid_line);
    CHECK_FALSE(out.files[0].overlong_stdout);
    CHECK_FALSE(out.files[0].overlong_stderr);
    CHECK(out.files[0].offset == 3015);
}

TEST_CASE("a damaged or foreign state file is refused with a reason") {
    const std::string json = serialize_state(sample_state());
    CHECK_THROWS_AS(parse_state(json.substr(0, json.size() / 2)), StateError);
    CHECK_THROWS_AS(parse_state("{\"format\":\"something else\"}"), StateError);
    std::string other_version = json;
    const auto at = other_version.find("\"version\":1");
    REQUIRE(at != std::string::npos);
    other_version.replace(at, 11, "\"version\":99");
    CHECK_THROWS_WITH_AS(parse_state(other_version), doctest::Contains("99"), StateError);
}
