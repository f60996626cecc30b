// append_json_string: RFC 8259 escaping of the characters that need it.
#include "common/json_string.hpp"

#include <fmt/format.h>

namespace ailog {

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
        } else {
            out += c;
        }
    }
    out += '"';
}

}  // namespace ailog
