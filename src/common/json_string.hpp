// A string as a JSON string literal (quotes, backslashes and control
// characters escaped), for the JSON the exporter writes itself.
#pragma once

#include <string>
#include <string_view>

namespace ailog {

void append_json_string(std::string& out, std::string_view s);

}  // namespace ailog
