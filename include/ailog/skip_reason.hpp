// Why a line did not become an event. Every skipped line is counted under
// exactly one reason (self-metric ailog_exporter_lines_skipped_total).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ailog {

enum class SkipReason : uint8_t {
    Empty,            // blank line
    TooLong,          // longer than --max-line-bytes
    NotJson,          // does not start with '{' or '[' (plain text, stack traces)
    InvalidJson,      // looked like JSON but did not parse (truncated, garbage)
    InvalidUtf8,      // bytes that are not UTF-8
    NotObject,        // valid JSON, but not an object
    TrailingContent,  // an object followed by more bytes
    NotMatched,       // a JSON object that is not one of the mapped entries
    MissingField,     // a mapped entry without a required field
    WrongType,        // a mapped entry with a field of the wrong JSON type
    InvalidValue,     // a mapped entry with a value out of range (negative tokens)
    BadWrapper,       // a Docker or CRI record that is malformed
    kCount,
};

inline constexpr std::array<std::string_view, static_cast<size_t>(SkipReason::kCount)> kSkipReasonNames = {
    "empty",       "too_long",      "not_json",   "invalid_json",  "invalid_utf8", "not_object", "trailing_content",
    "not_matched", "missing_field", "wrong_type", "invalid_value", "bad_wrapper",
};

// A reason that depends on the mapping (the line itself is a JSON object).
constexpr bool is_entry_reason(SkipReason r) {
    return r == SkipReason::NotMatched || r == SkipReason::MissingField || r == SkipReason::WrongType ||
           r == SkipReason::InvalidValue;
}

constexpr std::string_view to_string(SkipReason r) {
    return kSkipReasonNames[static_cast<size_t>(r)];
}

}  // namespace ailog
