#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "source/line_framer.hpp"

using ailog::LineFramer;

namespace {

struct Collected {
    std::vector<std::string> lines;
    int too_long = 0;
    bool padding_ok = true;
};

void feed(LineFramer& f, std::string_view bytes, Collected& c) {
    while (!bytes.empty()) {
        auto area = f.write_area(1);
        const size_t n = std::min(area.size(), bytes.size());
        std::copy_n(bytes.data(), n, area.data());
        f.commit(n);
        bytes.remove_prefix(n);
        f.drain(
            [&](std::string_view line, size_t cap) {
                c.lines.emplace_back(line);
                c.padding_ok &= cap >= line.size() + ailog::kLinePadding;
            },
            [&] { ++c.too_long; });
    }
}

}  // namespace

TEST_CASE("lines split across writes are joined, partial last line waits") {
    LineFramer f(1024);
    Collected c;
    feed(f, "first li", c);
    CHECK(c.lines.empty());
    feed(f, "ne\nsecond\nthi", c);
    REQUIRE(c.lines.size() == 2);
    CHECK(c.lines[0] == "first line");
    CHECK(c.lines[1] == "second");
    CHECK(f.pending() == 3);
    feed(f, "rd\n", c);
    REQUIRE(c.lines.size() == 3);
    CHECK(c.lines[2] == "third");
    CHECK(c.padding_ok);
}

TEST_CASE("CRLF and LF endings, empty lines") {
    LineFramer f(1024);
    Collected c;
    feed(f, "a\r\nb\n\r\n\nc\r\n", c);
    CHECK(c.lines == std::vector<std::string>{"a", "b", "", "", "c"});
}

TEST_CASE("an over-long line is dropped whole and reported once, however many reads it spans") {
    LineFramer f(100, 16);
    Collected c;
    feed(f, "short\n", c);
    for (int i = 0; i < 50; ++i) feed(f, std::string(37, 'x'), c);
    CHECK(c.too_long == 1);
    feed(f, "tail of the long line\nnext\n", c);
    CHECK(c.too_long == 1);
    CHECK(c.lines == std::vector<std::string>{"short", "next"});
}

TEST_CASE("a line of exactly the limit is kept, one byte more is not") {
    LineFramer f(10, 4);
    Collected c;
    feed(f, std::string(10, 'a') + "\n" + std::string(11, 'b') + "\nok\n", c);
    CHECK(c.lines == std::vector<std::string>{std::string(10, 'a'), "ok"});
    CHECK(c.too_long == 1);
}

TEST_CASE("finish delivers a last line without newline") {
    LineFramer f(1024);
    Collected c;
    feed(f, "a\nlast", c);
    f.finish([&](std::string_view l, size_t) { c.lines.emplace_back(l); }, [&] { ++c.too_long; });
    CHECK(c.lines == std::vector<std::string>{"a", "last"});
    CHECK(f.pending() == 0);
}

TEST_CASE("starting mid-line drops bytes up to the first newline") {
    LineFramer f(1024);
    f.reset(true);
    Collected c;
    feed(f, "ial line\nwhole\n", c);
    CHECK(c.lines == std::vector<std::string>{"whole"});
    CHECK(c.too_long == 0);
}

TEST_CASE("many small lines through a small buffer keep their content") {
    LineFramer f(64, 8);
    Collected c;
    std::string all;
    for (int i = 0; i < 1000; ++i) all += "line-" + std::to_string(i) + "\n";
    feed(f, all, c);
    REQUIRE(c.lines.size() == 1000);
    CHECK(c.lines[0] == "line-0");
    CHECK(c.lines[999] == "line-999");
    CHECK(c.padding_ok);
}

TEST_CASE("inside an over-long line, nothing is pending and the framer says it is skipping") {
    LineFramer f(100, 16);
    Collected c;
    feed(f, "short\npart", c);
    CHECK(f.pending() == 4);
    CHECK_FALSE(f.skipping());
    feed(f, std::string(200, 'x'), c);
    CHECK(c.too_long == 1);
    CHECK(f.pending() == 0);
    CHECK(f.skipping());
    feed(f, "end\nnext", c);
    CHECK_FALSE(f.skipping());
    CHECK(f.pending() == 4);
    CHECK(c.too_long == 1);
}
