// Unwrapper: wrapper detection and joining of split records.
#include "decode/wrapper.hpp"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "decode/json_unescape.hpp"
#include "source/line_framer.hpp"

namespace ailog {

std::optional<WrapperKind> parse_wrapper_kind(std::string_view s) {
    return parse_choice(s, kWrapperNames);
}

std::string_view to_string(WrapperKind k) {
    return choice_name(k, kWrapperNames);
}

WrapperKind sniff_wrapper(std::string_view line) {
    size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    line.remove_prefix(i);
    // Docker writes its fields in this order, without spaces.
    if (line.starts_with("{\"log\":\"")) return WrapperKind::Docker;
    // CRI: an RFC 3339 time, the stream, a P or F tag.
    const size_t s1 = line.find(' ');
    if (s1 != std::string_view::npos && s1 >= 20 && line.size() > s1 + 1 && line[4] == '-' && line[10] == 'T') {
        const std::string_view rest = line.substr(s1 + 1);
        if (rest.starts_with("stdout P") || rest.starts_with("stdout F") || rest.starts_with("stderr P") ||
            rest.starts_with("stderr F"))
            return WrapperKind::Cri;
    }
    return WrapperKind::None;
}

namespace {

bool skip_literal(const char*& p, const char* end, std::string_view lit) {
    if (static_cast<size_t>(end - p) < lit.size() || std::memcmp(p, lit.data(), lit.size()) != 0) return false;
    p += lit.size();
    return true;
}

}  // namespace

bool parse_docker_record(std::string_view line, std::vector<char>& buf, std::string_view& log, std::string_view& stream,
                         std::string_view& time) {
    const char* p = line.data();
    const char* end = p + line.size();
    if (!skip_literal(p, end, "{\"log\":\"")) return false;
    const size_t room = line.size() + std::max(kUnescapeSlack, kLinePadding);
    if (buf.size() < room) buf.resize(room);
    const char* log_end = unescape_json_string(p, end, buf.data());
    if (log_end == nullptr) return false;
    log = std::string_view(buf.data(), static_cast<size_t>(log_end - buf.data()));
    if (!skip_literal(p, end, ",\"stream\":\"")) return false;
    if (skip_literal(p, end, "stdout\""))
        stream = "stdout";
    else if (skip_literal(p, end, "stderr\""))
        stream = "stderr";
    else
        return false;
    if (!skip_literal(p, end, ",\"time\":\"")) return false;
    const char* t = p;
    while (p < end && *p != '"' && *p != '\\') ++p;
    time = std::string_view(t, static_cast<size_t>(p - t));
    if (!skip_literal(p, end, "\"}")) return false;
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    return p == end;
}

namespace {

// The last '"' or '\\' in [begin, end), or nullptr.
const char* last_quote_or_backslash(const char* begin, const char* end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    while (end - begin >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
        const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        if (mask != 0) return end - 16 + (31 - __builtin_clz(static_cast<unsigned>(mask)));
        end -= 16;
    }
#endif
    while (end > begin) {
        --end;
        if (*end == '"' || *end == '\\') return end;
    }
    return nullptr;
}

// `line` is the last record of a Docker entry in Docker's own shape:
// {"log":"…\n","stream":"stdout" or "stderr","time":"…"} and blanks, the
// time without quote or backslash. Unescaping the log is left to the reader
// of the record: whatever it finds, it finds on that stream and it ends the
// entry.
bool docker_last_record_shape(std::string_view line, std::string_view& stream) {
    constexpr std::string_view kHead = "{\"log\":\"";
    constexpr std::string_view kOut = "\\n\",\"stream\":\"stdout\",\"time\":\"";
    constexpr std::string_view kErr = "\\n\",\"stream\":\"stderr\",\"time\":\"";
    static_assert(kOut.size() == kErr.size());
    if (!line.starts_with(kHead)) return false;
    size_t n = line.size();
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) --n;
    if (n < 2 || line[n - 1] != '}' || line[n - 2] != '"') return false;
    // The time's closing quote is at n - 2; its opening one is the last
    // quote (and no backslash may come between).
    const char* open = last_quote_or_backslash(line.data(), line.data() + n - 2);
    if (open == nullptr) return false;
    const size_t t = static_cast<size_t>(open - line.data()) + 1;  // the time's first byte
    if (t < kHead.size() + kOut.size()) return false;
    const size_t tail = t - kOut.size();  // the backslash of the final \n
    const std::string_view candidate = line.substr(tail, kOut.size());
    if (candidate == kOut)
        stream = "stdout";
    else if (candidate == kErr)
        stream = "stderr";
    else
        return false;
    // The log string is all that lies between: it ends at that quote (so
    // the keys are exactly Docker's), and its last byte is an escaped
    // newline.
    if (json_string_end(line.data() + kHead.size(), line.data() + n) != line.data() + tail + 2) return false;
    // That backslash escapes the n only if the run of backslashes it ends is odd.
    size_t run = 1;
    while (line[tail - run] == '\\') ++run;  // stops at the quote of kHead at the latest
    return run % 2 == 1;
}

}  // namespace

bool Unwrapper::self_contained(std::string_view line) const {
    std::string_view stream;
    return kind_ == WrapperKind::Docker && docker_last_record_shape(line, stream) && !partial_for(stream).active;
}

void Unwrapper::reset(WrapperKind forced) {
    kind_ = forced;
    stdout_ = Partial{};
    stderr_ = Partial{};
}

std::string Unwrapper::partial(std::string_view stream) const {
    const Partial& p = partial_for(stream);
    return p.active && !p.overflow ? std::string(p.buf.data(), p.len) : std::string();
}

bool Unwrapper::partial_overlong(std::string_view stream) const {
    const Partial& p = partial_for(stream);
    return p.active && p.overflow;
}

void Unwrapper::set_partial(std::string_view stream, std::string_view bytes, bool overlong) {
    Partial& p = partial_for(stream);
    p = Partial{};
    if (overlong) {
        p.overflow = p.active = true;
    } else if (!bytes.empty()) {
        append(p, bytes, false);
    }
}

Unwrapper::Step Unwrapper::append(Partial& p, std::string_view piece, bool last) {
    if (!p.overflow) {
        if (p.len + piece.size() > max_line_) {
            p.overflow = true;
        } else {
            if (p.buf.size() < p.len + piece.size() + kLinePadding) p.buf.resize(p.len + piece.size() + kLinePadding);
            if (!piece.empty()) std::memcpy(p.buf.data() + p.len, piece.data(), piece.size());
            p.len += piece.size();
        }
    }
    p.active = true;
    if (!last) return Step::Continue;
    if (p.overflow) {
        p.len = 0;
        p.overflow = false;
        p.active = false;
        return Step::TooLong;
    }
    return Step::Complete;
}

Payload Unwrapper::finish(Partial& p, WrapperTime time) {
    // simdjson looks at the first byte after the document (a '}' there makes
    // it re-check bracket balance); keep leftovers of longer entries out of it.
    p.buf[p.len] = '\n';
    std::string_view text(p.buf.data(), p.len);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    p.len = 0;
    p.active = false;
    return Payload{text, p.buf.size(), time};
}

}  // namespace ailog
