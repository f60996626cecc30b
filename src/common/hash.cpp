// hash64: 8 bytes at a time through the splitmix64 finaliser.
#include "common/hash.hpp"

#include <cstring>

namespace ailog {
namespace {

uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

}  // namespace

uint64_t hash64(std::string_view s, uint64_t seed) {
    return hash64x2(s, seed, seed)[0];
}

std::array<uint64_t, 2> hash64x2(std::string_view s, uint64_t seed_a, uint64_t seed_b) {
    // Two independent chains in one loop: the multiplies of one run while
    // the other's wait.
    const uint64_t len = s.size() * 0x9e3779b97f4a7c15ULL;
    uint64_t a = seed_a ^ len;
    uint64_t b = seed_b ^ len;
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        a = mix(a ^ w) + 0x9e3779b97f4a7c15ULL;
        b = mix(b ^ w) + 0x9e3779b97f4a7c15ULL;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, s.data() + i, s.size() - i);
    tail ^= static_cast<uint64_t>(s.size() - i) << 56;
    return {mix(a ^ tail), mix(b ^ tail)};
}

}  // namespace ailog
