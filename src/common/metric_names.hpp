// Prometheus's rules for metric and label names.
#pragma once

#include <string_view>

namespace ailog {

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view s);
// [a-zA-Z_][a-zA-Z0-9_]* (names starting with __ are valid but reserved)
bool valid_label_name(std::string_view s);

}  // namespace ailog
