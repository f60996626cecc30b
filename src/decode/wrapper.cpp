// Unwrapper: wrapper detection and joining of split records.
#include "decode/wrapper.hpp"

#include <cstring>

#include "source/line_framer.hpp"

namespace ailog {

std::optional<WrapperKind> parse_wrapper_kind(std::string_view s) {
    if (s == "auto") return WrapperKind::Auto;
    if (s == "none") return WrapperKind::None;
    if (s == "docker") return WrapperKind::Docker;
    if (s == "cri") return WrapperKind::Cri;
    return std::nullopt;
}

std::string_view to_string(WrapperKind k) {
    switch (k) {
        case WrapperKind::Auto:
            return "auto";
        case WrapperKind::None:
            return "none";
        case WrapperKind::Docker:
            return "docker";
        case WrapperKind::Cri:
            return "cri";
    }
    return "none";
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

void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Unescapes the JSON string starting after its opening quote at `p`; on
// success `p` is just past the closing quote.
bool unescape(const char*& p, const char* end, std::string& out) {
    out.clear();
    while (p < end) {
        const char* q = p;
        while (q < end && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20) ++q;
        out.append(p, q);
        if (q >= end || static_cast<unsigned char>(*q) < 0x20) return false;
        if (*q == '"') {
            p = q + 1;
            return true;
        }
        if (q + 1 >= end) return false;
        switch (q[1]) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                uint32_t cp;
                if (q + 6 > end || !hex4(q + 2, cp)) return false;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t low;
                    if (q + 12 > end || q[6] != '\\' || q[7] != 'u' || !hex4(q + 8, low) || low < 0xDC00 ||
                        low > 0xDFFF)
                        return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    q += 6;
                }
                put_utf8(out, cp);
                p = q + 6;
                continue;
            }
            default:
                return false;
        }
        p = q + 2;
    }
    return false;
}

bool skip_literal(const char*& p, const char* end, std::string_view lit) {
    if (static_cast<size_t>(end - p) < lit.size() || std::memcmp(p, lit.data(), lit.size()) != 0) return false;
    p += lit.size();
    return true;
}

}  // namespace

bool parse_docker_record(std::string_view line, std::string& log, std::string_view& stream, std::string_view& time) {
    const char* p = line.data();
    const char* end = p + line.size();
    if (!skip_literal(p, end, "{\"log\":\"") || !unescape(p, end, log) || !skip_literal(p, end, ",\"stream\":\""))
        return false;
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
            std::memcpy(p.buf.data() + p.len, piece.data(), piece.size());
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

Payload Unwrapper::finish(Partial& p, std::optional<double> time_ms) {
    // simdjson looks at the first byte after the document (a '}' there makes
    // it re-check bracket balance); keep leftovers of longer entries out of it.
    p.buf[p.len] = '\n';
    std::string_view text(p.buf.data(), p.len);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    p.len = 0;
    p.active = false;
    return Payload{text, p.buf.size(), time_ms};
}

}  // namespace ailog
