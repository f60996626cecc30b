// Unescaping of JSON string content, 64 bytes at a time where the CPU has
// AVX-512 VBMI2 (chosen at run time), 16 at a time otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ailog {

// Room `out` needs past the unescaped text: vector stores write whole blocks.
inline constexpr size_t kUnescapeSlack = 64;

// Unescapes the JSON string whose content starts at `p` (just after its
// opening quote) and ends before `end` at the latest. `out` has room for
// (end - p) + kUnescapeSlack bytes: the result is never longer than the
// escaped text. Returns the end of what was written and leaves `p` just past
// the closing quote; nullptr if the string is not valid JSON (an unknown
// escape, a lone surrogate, a control character, no closing quote).
char* unescape_json_string(const char*& p, const char* end, char* out);

// Of a 64-byte block's backslashes (bit i for byte i), the bytes they escape:
// the byte after each odd-length run. A run that reaches the block's last
// byte carries into the next block through `prev_escaped` (0 or 1, set to 0
// before the first block). simdjson's branchless method.
inline uint64_t escaped_bytes(uint64_t backslash, uint64_t& prev_escaped) {
    constexpr uint64_t kEvenBits = 0x5555555555555555ULL;
    backslash &= ~prev_escaped;
    const uint64_t follows_escape = backslash << 1 | prev_escaped;
    const uint64_t odd_sequence_starts = backslash & ~kEvenBits & ~follows_escape;
    uint64_t sequences_starting_on_even_bits;
    prev_escaped = __builtin_add_overflow(odd_sequence_starts, backslash, &sequences_starting_on_even_bits) ? 1 : 0;
    const uint64_t invert_mask = sequences_starting_on_even_bits << 1;
    return (kEvenBits ^ invert_mask) & follows_escape;
}

namespace detail {
// The two implementations, for tests that hold them to each other.
char* unescape_portable(const char*& p, const char* end, char* out);
bool have_avx512_unescape();
char* unescape_avx512(const char*& p, const char* end, char* out);  // only where have_avx512_unescape()
}  // namespace detail

}  // namespace ailog
