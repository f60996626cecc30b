// LineDecoder: the decode stage for a set of sources. A line goes through
// its source's Unwrapper (Docker/CRI) and the JsonDecoder; every mapped entry
// with a usable time comes out as an Event, every other line is counted under
// one skip reason (and logged, rate-limited).
#pragma once

#include <simdjson.h>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ailog/clock.hpp"
#include "ailog/event.hpp"
#include "ailog/mapping.hpp"
#include "ailog/pipeline_stats.hpp"
#include "ailog/skip_reason.hpp"
#include "decode/json_decoder.hpp"
#include "decode/wrapper.hpp"

namespace ailog {

// What a file's decoder carries from one line to the next (saved in the
// state file with the file's position).
struct SourceState {
    std::string wrapper;         // detected wrapper ("" while undetected)
    std::string partial_stdout;  // raw bytes of a split record being joined
    std::string partial_stderr;
    bool overlong_stdout = false;  // the record being joined is over the line limit
    bool overlong_stderr = false;
};

struct DecodeOptions {
    WrapperKind wrapper = WrapperKind::Auto;
    size_t max_line_bytes = 1 << 20;
    // Entries without a timestamp: take the arrival time (serve), or skip
    // them (replay). Either way they are counted.
    bool arrival_time_fallback = true;
    // Zone of timestamps written without a zone or an offset.
    std::shared_ptr<const TimeZone> zone = TimeZone::utc();
    // Entries timestamped later than this are treated as having no
    // timestamp (replay: the time it started), counted as `future`.
    double latest_ms = kMaxTimestampMs;
};

class LineDecoder {
public:
    // `stats` may be shared by several decoders (replay reads files in
    // parallel streams). Each of `mappings` decodes every payload: an entry
    // of several is handed on once for each (Event::mapping), and a payload
    // none of them takes is skipped once.
    LineDecoder(std::span<const Mapping> mappings, const Clock& clock, DecodeOptions options, PipelineStats& stats);
    LineDecoder(const Mapping& mapping, const Clock& clock, DecodeOptions options, PipelineStats& stats)
        : LineDecoder(std::span<const Mapping>(&mapping, 1), clock, options, stats) {}

    int open_source(std::string_view name);
    void close_source(int source);

    // One complete line of `source`: on_event(const Event&) for each entry.
    template <class OnEvent>
    void decode(int source, std::string_view line, size_t capacity, OnEvent&& on_event);
    // The two halves of decode(), for running them on different threads:
    // the line counted and unwrapped (stateful, in line order), then each
    // payload decoded (stateless; any decoder of the same mapping).
    template <class OnPayload>
    void unwrap(int source, std::string_view line, size_t capacity, OnPayload&& on_payload);
    template <class OnEvent>
    void decode_payload(int source, const Payload& p, OnEvent&& on_event);
    // As unwrap(), except that a line this source can unwrap without its
    // state (Unwrapper::self_contained) is counted and handed to
    // on_record(std::string_view) as it is, for decode_record().
    template <class OnPayload, class OnRecord>
    void unwrap_or_pass(int source, std::string_view line, size_t capacity, OnPayload&& on_payload,
                        OnRecord&& on_record);
    // A self-contained record passed on by another decoder's
    // unwrap_or_pass() (which counted the line): unwrapped and decoded here.
    // This decoder's wrapper must be forced to Docker.
    template <class OnEvent>
    void decode_record(int source, std::string_view record, size_t capacity, OnEvent&& on_event);
    void too_long(int source);
    void reset_source(int source);

    SourceState snapshot_source(int source) const;
    void restore_source(int source, const SourceState& s);

    // The JSON decoder of mappings[i], for explaining its last verdict.
    const JsonDecoder& json(size_t i = 0) const { return decoders_[i]; }
    // Decodes by other mappings from the next line on (a reload).
    void set_mappings(std::span<const Mapping> mappings);

private:
    void skip(int source, SkipReason reason, std::string_view line);
    // event_, decoded by mappings[mapping]: its time checked, then handed on.
    template <class OnEvent>
    void emit(const Payload& p, size_t mapping, OnEvent&& on_event);

    const Clock& clock_;
    DecodeOptions options_;
    PipelineStats& stats_;
    std::vector<JsonDecoder> decoders_;  // one per mapping
    simdjson::ondemand::parser wrapper_parser_;
    Event event_;
    std::vector<std::string> source_names_;
    std::vector<Unwrapper> unwrappers_;
    std::vector<int> free_sources_;
    // Rate limit for warnings about bad lines: one per reason per second.
    std::array<double, static_cast<size_t>(SkipReason::kCount)> last_warned_ms_{};
    std::array<uint64_t, static_cast<size_t>(SkipReason::kCount)> suppressed_{};
};

template <class OnPayload>
void LineDecoder::unwrap(int source, std::string_view line, size_t capacity, OnPayload&& on_payload) {
    ++stats_.lines;
    auto on_skip = [&](SkipReason r) { skip(source, r, line); };
    unwrappers_[static_cast<size_t>(source)].feed(wrapper_parser_, line, capacity, on_payload, on_skip);
}

template <class OnPayload, class OnRecord>
void LineDecoder::unwrap_or_pass(int source, std::string_view line, size_t capacity, OnPayload&& on_payload,
                                 OnRecord&& on_record) {
    if (!unwrappers_[static_cast<size_t>(source)].self_contained(line)) {
        unwrap(source, line, capacity, on_payload);
        return;
    }
    ++stats_.lines;
    on_record(line);
}

template <class OnEvent>
void LineDecoder::decode_record(int source, std::string_view record, size_t capacity, OnEvent&& on_event) {
    auto on_skip = [&](SkipReason r) { skip(source, r, record); };
    unwrappers_[static_cast<size_t>(source)].feed(
        wrapper_parser_, record, capacity, [&](const Payload& p) { decode_payload(source, p, on_event); }, on_skip);
}

template <class OnEvent>
void LineDecoder::decode_payload(int source, const Payload& p, OnEvent&& on_event) {
    if (decoders_.size() == 1) {
        if (auto reason = decoders_[0].decode(p.text, p.capacity, event_)) return skip(source, *reason, p.text);
        return emit(p, 0, on_event);
    }
    std::optional<SkipReason> skipped;
    bool taken = false;
    for (size_t i = 0; i < decoders_.size(); ++i) {
        if (auto reason = decoders_[i].decode(p.text, p.capacity, event_)) {
            // What is wrong with the line itself is wrong for every mapping.
            if (!is_entry_reason(*reason)) {
                skipped = reason;
                break;
            }
            // The most telling: a kind's missing field over not matched.
            if (!skipped || *skipped == SkipReason::NotMatched) skipped = reason;
            continue;
        }
        taken = true;
        emit(p, i, on_event);
    }
    if (!taken) skip(source, *skipped, p.text);
}

template <class OnEvent>
void LineDecoder::emit(const Payload& p, size_t mapping, OnEvent&& on_event) {
    event_.mapping = static_cast<uint8_t>(mapping);
    if (event_.has_time && event_.time_ms > options_.latest_ms) {
        event_.has_time = false;
        event_.fold_ms = 0;
        event_.time_error = static_cast<uint8_t>(TimeError::Future);
    }
    if (!event_.has_time) {
        if (event_.time_error != 0) ++stats_.invalid_timestamps[event_.time_error];
        if (const auto wrapper_time = p.time.value(); wrapper_time && *wrapper_time <= options_.latest_ms) {
            event_.time_ms = *wrapper_time;
        } else {
            ++stats_.entries_without_time;
            if (!options_.arrival_time_fallback) return;
            event_.time_ms = clock_.now_ms();
            event_.arrival_time = true;
        }
    }
    on_event(static_cast<const Event&>(event_));
}

template <class OnEvent>
void LineDecoder::decode(int source, std::string_view line, size_t capacity, OnEvent&& on_event) {
    unwrap(source, line, capacity, [&](const Payload& p) { decode_payload(source, p, on_event); });
}

}  // namespace ailog
