// A fast 64-bit hash of bytes with a seed (not cryptographic).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ailog {

uint64_t hash64(std::string_view s, uint64_t seed);
// hash64 of `s` with two seeds at once (the same values, about the time of one).
std::array<uint64_t, 2> hash64x2(std::string_view s, uint64_t seed_a, uint64_t seed_b);

}  // namespace ailog
