// hash64 and hash64x2: the values are kept in state files (open starts by
// key hash, file fingerprints), so they must never change.
#include <doctest/doctest.h>

#include <string>

#include "common/hash.hpp"
#include "derive/correlation.hpp"

using ailog::hash64;
using ailog::hash64x2;

TEST_CASE("hash64 keeps the values state files hold") {
    CHECK(hash64("", 0x243f6a8885a308d3ULL) == 0xe9e0033e3badaf36ULL);
    CHECK(hash64("a", 0x243f6a8885a308d3ULL) == 0x07158ea95efc6d25ULL);
    CHECK(hash64("12345678", 0x13198a2e03707344ULL) == 0x1a22596bbbd78fe1ULL);
    const ailog::KeyHash k = ailog::hash_key("0ee964f4-63c7-465a-b390-85b52645a4b7");
    CHECK(k.a == 0x8224cf975e1e74bfULL);
    CHECK(k.b == 0x6c422d1d5c1d6df5ULL);
}

TEST_CASE("hash64x2 is hash64 with each seed, at every length") {
    std::string s;
    for (int n = 0; n < 70; ++n) {
        const auto h = hash64x2(s, 11, 0x13198a2e03707344ULL);
        CHECK(h[0] == hash64(s, 11));
        CHECK(h[1] == hash64(s, 0x13198a2e03707344ULL));
        CHECK(h[0] != h[1]);
        s.push_back(static_cast<char>('0' + n % 43));
    }
}
