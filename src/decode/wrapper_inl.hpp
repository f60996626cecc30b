// Unwrapper::feed and the per-wrapper parsers (templates, inlined in the
// line loop).
#pragma once

#include "decode/timestamp.hpp"
#include "decode/wrapper.hpp"
#include "source/line_framer.hpp"

namespace ailog {

template <class OnPayload, class OnSkip>
void Unwrapper::feed(simdjson::ondemand::parser& parser, std::string_view line, size_t capacity, OnPayload&& on_payload,
                     OnSkip&& on_skip) {
    if (kind_ == WrapperKind::Auto) {
        size_t i = 0;
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i == line.size()) {
            on_skip(SkipReason::Empty);
            return;
        }
        kind_ = sniff_wrapper(line);
    }
    switch (kind_) {
        case WrapperKind::Docker:
            feed_docker(parser, line, capacity, on_payload, on_skip);
            return;
        case WrapperKind::Cri:
            feed_cri(line, on_payload, on_skip);
            return;
        default:
            on_payload(Payload{line, capacity, {}});
            return;
    }
}

// {"log":"<entry, JSON-escaped>\n","stream":"stdout","time":"2025-06-01T12:00:00.029123456Z"}
template <class OnPayload, class OnSkip>
void Unwrapper::feed_docker(simdjson::ondemand::parser& parser, std::string_view line, size_t capacity,
                            OnPayload& on_payload, OnSkip& on_skip) {
    namespace od = simdjson::ondemand;
    size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) {
        on_skip(SkipReason::Empty);
        return;
    }
    std::string_view log, stream, time;
    if (parse_docker_record(line, docker_log_, log, stream, time)) {
        finish_docker(log, docker_log_.size(), stream, time, on_payload, on_skip);
        return;
    }
    od::document doc;
    od::object obj;
    if (parser.iterate(simdjson::padded_string_view(line.data(), line.size(), capacity)).get(doc) ||
        doc.get_object().get(obj)) {
        on_skip(SkipReason::BadWrapper);
        return;
    }
    bool has_log = false;
    for (auto fr : obj) {
        od::field field;
        if (std::move(fr).get(field)) {
            on_skip(SkipReason::BadWrapper);
            return;
        }
        const auto key = field.key();
        std::string_view* target = nullptr;
        if (key.unsafe_is_equal("log"))
            target = &log;
        else if (key.unsafe_is_equal("stream"))
            target = &stream;
        else if (key.unsafe_is_equal("time"))
            target = &time;
        if (target == nullptr) continue;
        if (field.value().get_string().get(*target)) {
            on_skip(SkipReason::BadWrapper);
            return;
        }
        // Unescaped strings stay valid until the parser's next document.
        has_log |= target == &log;
    }
    if (!has_log || doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
        on_skip(SkipReason::BadWrapper);
        return;
    }
    finish_docker(log, 0, stream, time, on_payload, on_skip);
}

template <class OnPayload, class OnSkip>
void Unwrapper::finish_docker(std::string_view log, size_t capacity, std::string_view stream, std::string_view time,
                              OnPayload& on_payload, OnSkip& on_skip) {
    // Only the last record of a split line ends in a newline.
    const bool last = !log.empty() && log.back() == '\n';
    if (last) log.remove_suffix(1);
    deliver(stream, log, capacity, last, WrapperTime{std::nullopt, time}, on_payload, on_skip);
}

template <class OnPayload, class OnSkip>
void Unwrapper::deliver(std::string_view stream, std::string_view piece, size_t capacity, bool last,
                        WrapperTime time, OnPayload& on_payload, OnSkip& on_skip) {
    Partial& p = partial_for(stream);
    if (last && !p.active && capacity >= piece.size() + kLinePadding) {
        // A whole entry, nothing joined: handed on without a copy.
        if (piece.size() > max_line_) {
            on_skip(SkipReason::TooLong);
            return;
        }
        if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
        on_payload(Payload{piece, capacity, time});
        return;
    }
    switch (append(p, piece, last)) {
        case Step::Continue:
            return;
        case Step::TooLong:
            on_skip(SkipReason::TooLong);
            return;
        case Step::Complete:
            break;
    }
    on_payload(finish(p, time));
}

// 2025-06-01T12:00:00.029000000Z stdout F {"level":30,…}
template <class OnPayload, class OnSkip>
void Unwrapper::feed_cri(std::string_view line, OnPayload& on_payload, OnSkip& on_skip) {
    if (line.empty()) {
        on_skip(SkipReason::Empty);
        return;
    }
    const size_t s1 = line.find(' ');
    const size_t s2 = s1 == std::string_view::npos ? s1 : line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) {
        on_skip(SkipReason::BadWrapper);
        return;
    }
    const size_t s3 = line.find(' ', s2 + 1);
    const std::string_view ts = line.substr(0, s1);
    const std::string_view stream = line.substr(s1 + 1, s2 - s1 - 1);
    const std::string_view tag =
        line.substr(s2 + 1, s3 == std::string_view::npos ? std::string_view::npos : s3 - s2 - 1);
    const std::string_view payload = s3 == std::string_view::npos ? std::string_view{} : line.substr(s3 + 1);
    const auto time = parse_iso8601_ms(ts);
    if (!time || (stream != "stdout" && stream != "stderr") || tag.empty() || (tag[0] != 'P' && tag[0] != 'F')) {
        on_skip(SkipReason::BadWrapper);
        return;
    }
    deliver(stream, payload, 0, tag[0] == 'F', WrapperTime{time, {}}, on_payload, on_skip);
}

}  // namespace ailog
