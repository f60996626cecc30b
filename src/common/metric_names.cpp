// Prometheus's rules for metric and label names.
#include "common/metric_names.hpp"

#include <algorithm>

namespace ailog {
namespace {

bool valid_name(std::string_view s, bool colons) {
    auto start = [colons](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':');
    };
    if (s.empty() || !start(s[0])) return false;
    return std::all_of(s.begin(), s.end(), [&](char c) { return start(c) || (c >= '0' && c <= '9'); });
}

}  // namespace

bool valid_metric_name(std::string_view s) {
    return valid_name(s, true);
}

bool valid_label_name(std::string_view s) {
    return valid_name(s, false);
}

}  // namespace ailog
