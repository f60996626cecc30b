// Finding the end of JSON string content and unescaping it, 64 bytes at a time where the CPU has
// AVX-512 VBMI2 (chosen at run time), 16 at a time otherwise.
#pragma once

#include <cstddef>

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

// The closing quote of the JSON string whose content starts at `p`: the
// first '"' before `end` not escaped by a backslash; nullptr if there is
// none. 64 bytes at a time, without a branch per escape.
const char* json_string_end(const char* p, const char* end);

namespace detail {
// The two implementations, for tests that hold them to each other.
char* unescape_portable(const char*& p, const char* end, char* out);
bool have_avx512_unescape();
char* unescape_avx512(const char*& p, const char* end, char* out);  // only where have_avx512_unescape()
const char* string_end_portable(const char* p, const char* end);
const char* string_end_avx512(const char* p, const char* end);  // only where have_avx512_unescape()
}  // namespace detail

}  // namespace ailog
