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
    uint64_t h = seed ^ (s.size() * 0x9e3779b97f4a7c15ULL);
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        h = mix(h ^ w) + 0x9e3779b97f4a7c15ULL;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, s.data() + i, s.size() - i);
    return mix(h ^ tail ^ (static_cast<uint64_t>(s.size() - i) << 56));
}

}  // namespace ailog
