#include "decode/json_unescape.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace ailog;

namespace {

using Fn = char* (*)(const char*&, const char*, char*);

struct Outcome {
    std::optional<std::string> text;  // nullopt: rejected
    size_t consumed = 0;              // bytes up to and including the closing quote
    bool operator==(const Outcome&) const = default;
};

// `input` is the string's content and what follows it, copied to the end of
// an exactly sized heap block so that a read past it is caught by ASan.
Outcome run(Fn fn, const std::string& input) {
    std::vector<char> in(input.begin(), input.end());
    std::vector<char> out(input.size() + kUnescapeSlack);
    const char* p = in.data();
    const char* w = fn(p, in.data() + in.size(), out.data());
    if (w == nullptr) return {};
    return {std::string(out.data(), static_cast<size_t>(w - out.data())), static_cast<size_t>(p - in.data())};
}

// simdjson's reading of the same string, as a JSON document of its own.
std::optional<std::string> simdjson_reading(const std::string& content) {
    simdjson::dom::parser parser;
    std::string_view s;
    if (parser.parse(simdjson::padded_string("\"" + content + "\"")).get(s)) return std::nullopt;
    return std::string(s);
}

std::vector<Fn> implementations() {
    std::vector<Fn> fns{detail::unescape_portable};
    if (detail::have_avx512_unescape()) fns.push_back(detail::unescape_avx512);
    return fns;
}

// Random string content built from pieces that stress the block logic:
// plain runs, every escape, \u escapes and surrogate pairs, runs of
// backslashes, UTF-8 bytes, and (when `valid` is false) mistakes.
std::string random_content(std::mt19937& rng, size_t target, bool valid) {
    static const char* const kPieces[] = {
        "a", "plain text ", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\u003c",
        "\\u0041", "\\ud83d\\ude00", "\\\\\\\\", "\\\\\\\"", "\xc3\xa9", "\xe2\x82\xac", "{\\\"k\\\":1}", "\\u0000",
    };
    static const char* const kMistakes[] = {"\\x", "\\", "\\u12", "\\udc00", "\\ud800x", "\x01", "\\u00g0", "\n"};
    std::string s;
    std::uniform_int_distribution<size_t> piece(0, std::size(kPieces) - 1);
    std::uniform_int_distribution<size_t> mistake(0, std::size(kMistakes) - 1);
    std::uniform_int_distribution<int> run(0, 70);
    while (s.size() < target) {
        if (run(rng) < 8) s.append(static_cast<size_t>(run(rng)), 'x');  // crosses block edges at varied offsets
        s += kPieces[piece(rng)];
    }
    if (!valid) s.insert(std::uniform_int_distribution<size_t>(0, s.size())(rng), kMistakes[mistake(rng)]);
    return s;
}

}  // namespace

TEST_CASE("unescaping: each implementation reads JSON strings as simdjson does") {
    const std::pair<std::string, std::string> cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"a\\\"b", "a\"b"},
        {"\\\\", "\\"},
        {"\\/\\b\\f\\n\\r\\t", "/\b\f\n\r\t"},
        {"\\u00e9\\u20ac", "\xc3\xa9\xe2\x82\xac"},
        {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
        {"\\u0000", std::string(1, '\0')},
        {"\\\\\\\"", "\\\""},
    };
    for (Fn fn : implementations()) {
        for (const auto& kase : cases) {
            const std::string& content = kase.first;
            const std::string& expected = kase.second;
            CAPTURE(content);
            const Outcome o = run(fn, content + "\",\"stream\"");
            REQUIRE(o.text.has_value());
            CHECK(*o.text == expected);
            CHECK(o.consumed == content.size() + 1);
            CHECK(simdjson_reading(content) == expected);
        }
    }
}

TEST_CASE("unescaping: what is not a valid JSON string is rejected") {
    const std::string bad[] = {
        "no closing quote",  "bad \\x escape", "lone \\udc00\"", "high alone \\ud800\"", "high then text \\ud800abcdef\"",
        "short \\u12\"",     "control \x01\"", "newline \n\"",   "tab \t\"",             "ends in a backslash \\",
        "escaped quote only \\\"", "\\u00g0\"",
    };
    for (Fn fn : implementations()) {
        for (const auto& s : bad) {
            CAPTURE(s);
            CHECK_FALSE(run(fn, s).text.has_value());
        }
    }
}

TEST_CASE("unescaping: the vector implementation gives exactly what the portable one gives") {
    if (!detail::have_avx512_unescape()) {
        MESSAGE("this CPU has no AVX-512 VBMI2: only the portable implementation runs here");
        return;
    }
    std::mt19937 rng(20261123);
    for (int i = 0; i < 20000; ++i) {
        const bool valid = i % 3 != 0;
        const size_t target = static_cast<size_t>(i % 300);
        std::string content = random_content(rng, target, valid);
        // The closing quote anywhere from the block's first byte to its
        // last, and sometimes missing.
        const std::string input = i % 17 == 0 ? content : content + "\",\"stream\":\"stdout\"}";
        CAPTURE(input);
        const Outcome portable = run(detail::unescape_portable, input);
        const Outcome vector = run(detail::unescape_avx512, input);
        REQUIRE(portable == vector);
        const char* const in_end = input.data() + input.size();
        const char* const end = detail::string_end_portable(input.data(), in_end);
        REQUIRE(end == detail::string_end_avx512(input.data(), in_end));
        // Where the string is valid, its end is where unescaping stopped.
        if (portable.text) CHECK(end == input.data() + portable.consumed - 1);
        if (valid && i % 17 != 0) {
            REQUIRE(portable.text.has_value());
            CHECK(portable.text == simdjson_reading(content));
        }
    }
}

TEST_CASE("unescaping: every offset of an escape around the 64-byte block edges") {
    for (Fn fn : implementations()) {
        for (const std::string esc : {"\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "\\\\\\\""}) {
            for (size_t at = 0; at < 140; ++at) {
                const std::string content = std::string(at, 'x') + esc + std::string(140 - at, 'y');
                CAPTURE(content);
                const Outcome o = run(fn, content + "\"}");
                REQUIRE(o.text.has_value());
                CHECK(o.text == simdjson_reading(content));
                CHECK(o.consumed == content.size() + 1);
                // The same string cut just before its closing quote has none.
                CHECK_FALSE(run(fn, content).text.has_value());
                const std::string input = content + "\"}";
                for (auto string_end : {detail::string_end_portable, json_string_end}) {
                    CHECK(string_end(input.data(), input.data() + input.size()) == input.data() + content.size());
                    CHECK(string_end(content.data(), content.data() + content.size()) == nullptr);
                }
            }
        }
    }
}
