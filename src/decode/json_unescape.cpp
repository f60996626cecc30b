// JSON strings: finding their end and unescaping them. Unescaping has a
// portable loop that copies plain runs 16 bytes at a time and stops at each
// escape, and an AVX-512 one that takes 64 bytes at a time whatever they
// hold, dropping the escaping backslashes with one compress.
#include "decode/json_unescape.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ailog {

namespace {

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

bool hex4(const char* p, uint32_t& v) {
    v = 0;
    for (int i = 0; i < 4; ++i) {
        const char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= static_cast<uint32_t>(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= static_cast<uint32_t>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= static_cast<uint32_t>(c - 'A' + 10);
        else
            return false;
    }
    return true;
}

// Writes the UTF-8 encoding of `cp` at `w`; returns the end.
char* put_utf8(char* w, uint32_t cp) {
    if (cp < 0x80) {
        *w++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
        *w++ = static_cast<char>(0xC0 | (cp >> 6));
        *w++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = static_cast<char>(0xE0 | (cp >> 12));
        *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        *w++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        *w++ = static_cast<char>(0xF0 | (cp >> 18));
        *w++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        *w++ = static_cast<char>(0x80 | (cp & 0x3F));
    }
    return w;
}

// The \u escape whose backslash is at `q` (a surrogate pair as one code
// point), written at `w` as UTF-8: at most 4 bytes from at least 6 escaped
// ones. Returns the byte after the escape, or nullptr if it is not valid.
const char* put_unicode_escape(const char* q, const char* end, char*& w) {
    uint32_t cp;
    if (end - q < 6 || !hex4(q + 2, cp)) return nullptr;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return nullptr;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t low;
        if (end - q < 12 || q[6] != '\\' || q[7] != 'u' || !hex4(q + 8, low) || low < 0xDC00 || low > 0xDFFF)
            return nullptr;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        q += 6;
    }
    w = put_utf8(w, cp);
    return q + 6;
}

// What each valid escape letter (the byte after a backslash) stands for; 0
// for bytes that are not valid there. 'u' maps to itself: it is decoded
// apart.
constexpr std::array<char, 128> kEscapeTable = [] {
    std::array<char, 128> t{};
    t['"'] = '"';
    t['\\'] = '\\';
    t['/'] = '/';
    t['b'] = '\b';
    t['f'] = '\f';
    t['n'] = '\n';
    t['r'] = '\r';
    t['t'] = '\t';
    t['u'] = 'u';
    return t;
}();

// Bytes that end a run of plain string content: '"', '\\' and control characters.
constexpr auto kStringStop = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = true;
    t['"'] = t['\\'] = true;
    return t;
}();

// Copies the bytes from `q` up to the next '"', '\\' or control character
// to `w`, advancing both. `w` may be written up to 16 bytes ahead of what is
// kept, never further than `w` + (`end` - `q`).
inline void copy_plain(const char*& q, char*& w, const char* end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control_max = _mm_set1_epi8(0x1F);
    while (end - q >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(w), v);
        const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                          _mm_cmpeq_epi8(_mm_max_epu8(v, control_max), control_max));
        const int mask = _mm_movemask_epi8(stop);
        if (mask != 0) {
            const int n = __builtin_ctz(static_cast<unsigned>(mask));
            q += n;
            w += n;
            return;
        }
        q += 16;
        w += 16;
    }
#endif
    while (q < end && !kStringStop[static_cast<unsigned char>(*q)]) *w++ = *q++;
}

// Bit i set where block[i] == c.
inline uint64_t byte_mask(const char* block, char c) {
    uint64_t m = 0;
#if defined(__SSE2__)
    const __m128i want = _mm_set1_epi8(c);
    for (int i = 0; i < 4; ++i) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * i));
        m |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, want)))) << (16 * i);
    }
#else
    for (int i = 0; i < 64; ++i) m |= static_cast<uint64_t>(block[i] == c) << i;
#endif
    return m;
}

#if defined(__x86_64__)
// Chosen once, for this CPU.
struct Implementation {
    char* (*unescape)(const char*&, const char*, char*);
    const char* (*string_end)(const char*, const char*);
};
Implementation choose() {
    if (detail::have_avx512_unescape()) return {detail::unescape_avx512, detail::string_end_avx512};
    return {detail::unescape_portable, detail::string_end_portable};
}
const Implementation kImpl = choose();
#endif

}  // namespace

namespace detail {

const char* string_end_portable(const char* p, const char* end) {
    uint64_t carry = 0;
    char tail[64];
    while (p < end) {
        const char* block = p;
        if (end - p < 64) {
            std::memset(tail, ' ', sizeof tail);
            std::memcpy(tail, p, static_cast<size_t>(end - p));
            block = tail;
        }
        const uint64_t quotes = byte_mask(block, '"') & ~escaped_bytes(byte_mask(block, '\\'), carry);
        if (quotes != 0) {
            const char* q = p + __builtin_ctzll(quotes);
            return q < end ? q : nullptr;
        }
        p += 64;
    }
    return nullptr;
}

char* unescape_portable(const char*& p, const char* end, char* out) {
    const char* q = p;
    char* w = out;
    for (;;) {
        copy_plain(q, w, end);
        if (q >= end || static_cast<unsigned char>(*q) < 0x20) return nullptr;
        if (*q == '"') {
            p = q + 1;
            return w;
        }
        if (end - q < 2) return nullptr;
        const unsigned char letter = static_cast<unsigned char>(q[1]);
        const char c = letter < kEscapeTable.size() ? kEscapeTable[letter] : 0;
        if (c == 0) return nullptr;
        if (c == 'u') {
            q = put_unicode_escape(q, end, w);
            if (q == nullptr) return nullptr;
            continue;
        }
        *w++ = c;
        q += 2;
    }
}

#if defined(__x86_64__)

bool have_avx512_unescape() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vbmi2");
}

__attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt,bmi"))) char* unescape_avx512(const char*& p,
                                                                                                  const char* end,
                                                                                                  char* out) {
    const __m512i quote = _mm512_set1_epi8('"');
    const __m512i backslash = _mm512_set1_epi8('\\');
    const __m512i control_max = _mm512_set1_epi8(0x1F);
    const __m512i letter_u = _mm512_set1_epi8('u');
    const __m512i table_lo = _mm512_loadu_si512(kEscapeTable.data());
    const __m512i table_hi = _mm512_loadu_si512(kEscapeTable.data() + 64);
    const char* q = p;
    char* w = out;
    uint64_t carry = 0;  // the previous block ended in an escaping backslash
    for (;;) {
        const size_t avail = static_cast<size_t>(end - q);
        if (avail == 0) return nullptr;
        const uint64_t valid = avail >= 64 ? ~0ULL : (1ULL << avail) - 1;
        const __m512i v = _mm512_maskz_loadu_epi8(valid, q);  // no fault past `end`
        const uint64_t bs = _mm512_mask_cmpeq_epi8_mask(valid, v, backslash);
        const uint64_t escaped = escaped_bytes(bs, carry);
        const uint64_t quotes = _mm512_mask_cmpeq_epi8_mask(valid, v, quote) & ~escaped;
        // The string's bytes in this block: up to its closing quote.
        const uint64_t inside = quotes != 0 ? (quotes & (0 - quotes)) - 1 : valid;
        if (_mm512_mask_cmple_epu8_mask(inside, v, control_max) != 0) return nullptr;
        const uint64_t escapes = escaped & inside;
        // The escape letters' meanings (0 for an invalid one, and for any byte >= 0x80).
        const __m512i meaning = _mm512_permutex2var_epi8(table_lo, v, table_hi);
        if ((escapes & (_mm512_movepi8_mask(v) | _mm512_testn_epi8_mask(meaning, meaning))) != 0) return nullptr;
        const uint64_t escaping = bs & ~escaped;
        const __m512i text = _mm512_mask_mov_epi8(v, escapes, meaning);
        const uint64_t unicode = escapes & _mm512_cmpeq_epi8_mask(v, letter_u);
        if (unicode != 0) {
            // What comes before the first \u as usual, then that escape on
            // its own; the next block starts after it. Its backslash is the
            // byte before the 'u', in the previous block when the 'u' is first.
            const unsigned at = static_cast<unsigned>(__builtin_ctzll(unicode));
            const uint64_t keep = inside & ~escaping & ((1ULL << at) - 1);
            _mm512_storeu_si512(w, _mm512_maskz_compress_epi8(keep, text));
            w += __builtin_popcountll(keep);
            q = put_unicode_escape(q + at - 1, end, w);
            if (q == nullptr) return nullptr;
            carry = 0;
            continue;
        }
        const uint64_t keep = inside & ~escaping;
        _mm512_storeu_si512(w, _mm512_maskz_compress_epi8(keep, text));
        w += __builtin_popcountll(keep);
        if (quotes != 0) {
            p = q + __builtin_ctzll(quotes) + 1;
            return w;
        }
        if (avail <= 64) return nullptr;
        q += 64;
    }
}

__attribute__((target("avx512f,avx512bw,bmi"))) const char* string_end_avx512(const char* p, const char* end) {
    const __m512i quote = _mm512_set1_epi8('"');
    const __m512i backslash = _mm512_set1_epi8('\\');
    uint64_t carry = 0;
    while (p < end) {
        const size_t avail = static_cast<size_t>(end - p);
        const uint64_t valid = avail >= 64 ? ~0ULL : (1ULL << avail) - 1;
        const __m512i v = _mm512_maskz_loadu_epi8(valid, p);  // no fault past `end`
        const uint64_t escaped = escaped_bytes(_mm512_mask_cmpeq_epi8_mask(valid, v, backslash), carry);
        const uint64_t quotes = _mm512_mask_cmpeq_epi8_mask(valid, v, quote) & ~escaped;
        if (quotes != 0) return p + __builtin_ctzll(quotes);
        p += 64;
    }
    return nullptr;
}

#else

bool have_avx512_unescape() { return false; }
const char* string_end_avx512(const char* p, const char* end) { return string_end_portable(p, end); }
char* unescape_avx512(const char*& p, const char* end, char* out) { return unescape_portable(p, end, out); }

#endif

}  // namespace detail

char* unescape_json_string(const char*& p, const char* end, char* out) {
#if defined(__x86_64__)
    return kImpl.unescape(p, end, out);
#else
    return detail::unescape_portable(p, end, out);
#endif
}

const char* json_string_end(const char* p, const char* end) {
#if defined(__x86_64__)
    return kImpl.string_end(p, end);
#else
    return detail::string_end_portable(p, end);
#endif
}

}  // namespace ailog
