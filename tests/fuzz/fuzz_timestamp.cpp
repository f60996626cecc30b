// libFuzzer target: timestamps in every form the decoder reads. The first
// byte picks the form and the zone; for a pattern, the text before the first
// newline is the pattern (checked as the mapping loader checks it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "common/time_pattern.hpp"
#include "decode/timestamp.hpp"
#include "decode/timezone.hpp"

namespace {

void check(const ailog::ParsedTime& t) {
    // A valid time is inside the documented range, never wrapped or clamped.
    if (t.error == ailog::TimeError::None && !(t.ms >= 0 && t.ms < ailog::kMaxTimestampMs)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static std::shared_ptr<const ailog::TimeZone> zones[] = {
        ailog::TimeZone::utc(),
        [] {
            std::string problem;
            auto z = ailog::TimeZone::locate("America/New_York", problem);
            return z ? z : ailog::TimeZone::utc();
        }(),
    };
    const uint8_t pick = data[0];
    std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    ailog::LocalTimeConverter local(zones[(pick >> 4) & 1]);
    switch (pick % 4) {
        case 0:
            check(ailog::parse_iso8601(text, &local));
            break;
        case 1: {
            constexpr ailog::TimeFormat units[] = {ailog::TimeFormat::Auto, ailog::TimeFormat::EpochS,
                                                   ailog::TimeFormat::EpochMs, ailog::TimeFormat::EpochUs,
                                                   ailog::TimeFormat::EpochNs};
            check(ailog::epoch_text(text, units[(pick >> 2) % 5]));
            break;
        }
        case 2: {
            const size_t nl = text.find('\n');
            if (nl == std::string_view::npos) return 0;
            const std::string_view pattern = text.substr(0, nl);
            if (ailog::check_time_pattern(pattern)) return 0;
            check(ailog::parse_time_pattern(text.substr(nl + 1), pattern, &local));
            break;
        }
        default: {
            if (text.size() < sizeof(double)) return 0;
            double v;
            __builtin_memcpy(&v, text.data(), sizeof v);
            check(ailog::epoch_time(v));
            break;
        }
    }
    return 0;
}
