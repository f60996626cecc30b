// parse_duration_ms: a sequence of <integer><unit>, largest units first.
#include "common/duration.hpp"

#include <cstdint>

namespace ailog {

std::optional<double> parse_duration_ms(std::string_view s) {
    if (s.empty()) return std::nullopt;
    if (s == "0") return 0.0;
    struct Unit {
        std::string_view name;
        double ms;
    };
    // Each unit at most once, in this order ("1h30m", "1s500ms").
    static constexpr Unit kUnits[] = {{"y", 365 * 86400e3}, {"w", 7 * 86400e3}, {"d", 86400e3}, {"h", 3600e3},
                                      {"m", 60e3},          {"s", 1e3},         {"ms", 1}};
    double total = 0;
    size_t next_unit = 0;
    size_t i = 0;
    while (i < s.size()) {
        uint64_t n = 0;
        const size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            n = n * 10 + static_cast<uint64_t>(s[i] - '0');
            if (n > (1ULL << 40)) return std::nullopt;
            ++i;
        }
        if (i == start) return std::nullopt;
        bool matched = false;
        for (size_t u = next_unit; u < std::size(kUnits); ++u) {
            const auto& unit = kUnits[u];
            if (s.substr(i).starts_with(unit.name) && !(unit.name == "m" && i + 1 < s.size() && s[i + 1] == 's')) {
                total += static_cast<double>(n) * unit.ms;
                i += unit.name.size();
                next_unit = u + 1;
                matched = true;
                break;
            }
        }
        if (!matched) return std::nullopt;
    }
    return total;
}

}  // namespace ailog
