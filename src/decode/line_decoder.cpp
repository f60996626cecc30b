// LineDecoder: sources, skip accounting and rate-limited warnings.
#include "decode/line_decoder.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ailog {
namespace {

// Reasons that describe ordinary log lines rather than damage.
bool is_routine(SkipReason r) {
    return r == SkipReason::Empty || r == SkipReason::NotMatched || r == SkipReason::NotJson;
}

std::string sample_of(std::string_view line) {
    constexpr size_t kMax = 160;
    std::string out;
    size_t cut = std::min(line.size(), kMax);
    // Not inside a UTF-8 sequence (at most 3 continuation bytes).
    for (int back = 0;
         back < 3 && cut > 0 && cut < line.size() && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80; ++back)
        --cut;
    const std::string_view head = line.substr(0, cut);
    // Log lines are UTF-8 (and JSON with --log.format json): bytes of a
    // sample that is not are written as escapes.
    const bool utf8 = simdjson::validate_utf8(head.data(), head.size());
    for (char c : head) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || (u >= 0x80 && !utf8))
            out += fmt::format("\\x{:02x}", u);
        else
            out += c;
    }
    if (line.size() > cut) out += "…";
    return out;
}

}  // namespace

LineDecoder::LineDecoder(std::span<const Mapping> mappings, const Clock& clock, DecodeOptions options,
                         PipelineStats& stats)
    : clock_(clock), options_(options), stats_(stats) {
    set_mappings(mappings);
}

void LineDecoder::set_mappings(std::span<const Mapping> mappings) {
    decoders_.clear();
    decoders_.reserve(mappings.size());
    for (const Mapping& m : mappings) decoders_.emplace_back(m, options_.zone);
}

int LineDecoder::open_source(std::string_view name) {
    if (!free_sources_.empty()) {
        const int id = free_sources_.back();
        free_sources_.pop_back();
        source_names_[static_cast<size_t>(id)] = name;
        unwrappers_[static_cast<size_t>(id)].reset(options_.wrapper);
        return id;
    }
    source_names_.emplace_back(name);
    unwrappers_.emplace_back(options_.wrapper, options_.max_line_bytes);
    return static_cast<int>(source_names_.size() - 1);
}

void LineDecoder::close_source(int source) {
    unwrappers_[static_cast<size_t>(source)].reset(options_.wrapper);
    source_names_[static_cast<size_t>(source)].clear();
    free_sources_.push_back(source);
}

void LineDecoder::reset_source(int source) {
    unwrappers_[static_cast<size_t>(source)].reset(options_.wrapper);
}

SourceState LineDecoder::snapshot_source(int source) const {
    const Unwrapper& u = unwrappers_[static_cast<size_t>(source)];
    SourceState s;
    if (u.kind() != WrapperKind::Auto) s.wrapper = to_string(u.kind());
    s.partial_stdout = u.partial("stdout");
    s.partial_stderr = u.partial("stderr");
    s.overlong_stdout = u.partial_overlong("stdout");
    s.overlong_stderr = u.partial_overlong("stderr");
    return s;
}

void LineDecoder::restore_source(int source, const SourceState& s) {
    Unwrapper& u = unwrappers_[static_cast<size_t>(source)];
    u.reset(s.wrapper.empty() ? options_.wrapper : parse_wrapper_kind(s.wrapper).value_or(options_.wrapper));
    u.set_partial("stdout", s.partial_stdout, s.overlong_stdout);
    u.set_partial("stderr", s.partial_stderr, s.overlong_stderr);
}

void LineDecoder::too_long(int source) {
    ++stats_.lines;
    skip(source, SkipReason::TooLong, {});
}

void LineDecoder::skip(int source, SkipReason reason, std::string_view line) {
    const auto r = static_cast<size_t>(reason);
    ++stats_.skipped[r];
    if (spdlog::should_log(spdlog::level::debug)) {
        // Debugging a log source: every skipped line, no rate limit.
        spdlog::debug("skipped line reason={} source={} sample=\"{}\"", to_string(reason),
                      source_names_[static_cast<size_t>(source)], sample_of(line));
        return;
    }
    if (is_routine(reason)) return;
    // The clock itself: the read time of the first batch is only known after it.
    const double now = clock_.now_ms();
    if (now - last_warned_ms_[r] < 1000) {
        ++suppressed_[r];
        return;
    }
    spdlog::warn("skipped line reason={} source={} similar_suppressed={} sample=\"{}\"", to_string(reason),
                 source_names_[static_cast<size_t>(source)], suppressed_[r], sample_of(line));
    last_warned_ms_[r] = now;
    suppressed_[r] = 0;
}

}  // namespace ailog
