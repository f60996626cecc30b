// A fast 64-bit hash of bytes with a seed (not cryptographic).
#pragma once

#include <cstdint>
#include <string_view>

namespace ailog {

uint64_t hash64(std::string_view s, uint64_t seed);

}  // namespace ailog
