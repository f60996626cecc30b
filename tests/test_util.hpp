// Helpers shared by the unit tests.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

namespace ailog::test {

// A copy of `s` followed by simdjson's padding, as the framer provides.
struct Padded {
    explicit Padded(std::string_view s) : buf(s) {
        buf.append(simdjson::SIMDJSON_PADDING, ' ');
        size = s.size();
    }
    std::string_view view() const { return {buf.data(), size}; }
    size_t capacity() const { return buf.size(); }
    std::string buf;
    size_t size;
};

}  // namespace ailog::test
