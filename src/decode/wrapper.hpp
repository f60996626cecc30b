// Unwrapper: takes the lines of one file and yields the log entries inside
// their container wrapper (Docker json-file, Kubernetes CRI) or the lines
// themselves, joining records that the runtime split.
//
// State is per source: the wrapper detected from the first non-empty line
// (unless forced) and the partial record of each stream.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ailog/skip_reason.hpp"
#include "common/choice.hpp"
#include "decode/timestamp.hpp"

namespace ailog {

enum class WrapperKind : uint8_t { Auto, None, Docker, Cri };

inline constexpr Choice<WrapperKind> kWrapperNames[] = {
    {"auto", WrapperKind::Auto}, {"none", WrapperKind::None}, {"docker", WrapperKind::Docker}, {"cri", WrapperKind::Cri}};

std::optional<WrapperKind> parse_wrapper_kind(std::string_view s);
std::string_view to_string(WrapperKind k);

// A Docker json-file record in the exact shape Docker writes
// ({"log":"…","stream":"stdout","time":"…"}): the log unescaped at the start
// of `buf` (grown as needed), which has at least kLinePadding bytes of room
// after it; `log` views it. False for anything else, which the general JSON
// path then reads.
bool parse_docker_record(std::string_view line, std::vector<char>& buf, std::string_view& log,
                         std::string_view& stream, std::string_view& time);

// Which wrapper a line is in, judged from that line alone.
WrapperKind sniff_wrapper(std::string_view line);

// The wrapper's timestamp of an entry: parsed already (CRI's, which makes
// the record valid), or the text of one (Docker's), parsed only when the
// entry has no time of its own.
struct WrapperTime {
    std::optional<double> ms;
    std::string_view text;
    std::optional<double> value() const { return ms || text.empty() ? ms : parse_iso8601_ms(text); }
};

struct Payload {
    std::string_view text;
    size_t capacity;   // readable bytes from text.data()
    WrapperTime time;  // valid while the callback runs
};

class Unwrapper {
public:
    Unwrapper(WrapperKind forced, size_t max_line_bytes) : kind_(forced), max_line_(max_line_bytes) {}

    // One framed line in; on_payload(const Payload&) for each complete entry,
    // on_skip(SkipReason) for a line that yields nothing countable.
    // Continuation records of a split entry yield neither.
    template <class OnPayload, class OnSkip>
    void feed(simdjson::ondemand::parser& parser, std::string_view line, size_t capacity, OnPayload&& on_payload,
              OnSkip&& on_skip);

    WrapperKind kind() const { return kind_; }
    // True when `line` can be unwrapped without this unwrapper's state: a
    // Docker record in Docker's own shape, the last (or only) record of its
    // entry, with no split record being joined on its stream. Any unwrapper
    // forced to Docker then yields from it what this one would, and this
    // one's state stays as it is (so the line may be fed elsewhere instead).
    bool self_contained(std::string_view line) const;
    // The bytes of a split record being joined on a stream ("stdout" or
    // "stderr"), to carry them across a restart; `overlong` when it is
    // already over the line limit (its bytes are dropped then).
    std::string partial(std::string_view stream) const;
    bool partial_overlong(std::string_view stream) const;
    void set_partial(std::string_view stream, std::string_view bytes, bool overlong);
    // Forget partial records and, in Auto mode, the detected wrapper
    // (the file was truncated or replaced).
    void reset(WrapperKind forced);

private:
    struct Partial {
        std::vector<char> buf;  // joined so far, with padding room
        size_t len = 0;
        bool overflow = false;  // over the line limit: dropped at the end
        bool active = false;
    };
    enum class Step { Complete, Continue, TooLong };

    Partial& partial_for(std::string_view stream) { return stream == "stderr" ? stderr_ : stdout_; }
    const Partial& partial_for(std::string_view stream) const { return stream == "stderr" ? stderr_ : stdout_; }
    Step append(Partial& p, std::string_view piece, bool last);
    Payload finish(Partial& p, WrapperTime time);

    template <class OnPayload, class OnSkip>
    void feed_docker(simdjson::ondemand::parser& parser, std::string_view line, size_t capacity, OnPayload& on_payload,
                     OnSkip& on_skip);
    // `capacity`: readable bytes from log.data(), 0 when unknown.
    template <class OnPayload, class OnSkip>
    void finish_docker(std::string_view log, size_t capacity, std::string_view stream, std::string_view time,
                       OnPayload& on_payload, OnSkip& on_skip);
    // A record's piece of a line on `stream`: joined, and handed on when
    // `last`; handed on in place when it is a whole entry that has padding
    // room: `capacity` readable bytes from piece.data() (0 when unknown), the
    // first of them after the piece a newline (as the one that ended a Docker
    // log, cut off it), which keeps simdjson's look past the document off
    // anything else.
    template <class OnPayload, class OnSkip>
    void deliver(std::string_view stream, std::string_view piece, size_t capacity, bool last,
                 WrapperTime time, OnPayload& on_payload, OnSkip& on_skip);
    template <class OnPayload, class OnSkip>
    void feed_cri(std::string_view line, OnPayload& on_payload, OnSkip& on_skip);

    WrapperKind kind_;
    size_t max_line_;
    std::vector<char> docker_log_;  // parse_docker_record's buffer
    Partial stdout_;
    Partial stderr_;
};

}  // namespace ailog

#include "decode/wrapper_inl.hpp"
