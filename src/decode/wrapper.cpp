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

void Unwrapper::reset(WrapperKind forced) {
    kind_ = forced;
    stdout_ = Partial{};
    stderr_ = Partial{};
}

std::string Unwrapper::partial(std::string_view stream) const {
    const Partial& p = partial_for(stream);
    return p.active && !p.overflow ? std::string(p.buf.data(), p.len) : std::string();
}

void Unwrapper::set_partial(std::string_view stream, std::string_view bytes) {
    Partial& p = partial_for(stream);
    p = Partial{};
    if (!bytes.empty()) append(p, bytes, false);
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
