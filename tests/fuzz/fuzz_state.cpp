// libFuzzer target: the state file parser. A file either parses or is
// refused with a StateError; one that parses writes back to text that parses
// to the same state.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "state/state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view json(reinterpret_cast<const char*>(data), size);
    ailog::State state;
    try {
        state = ailog::parse_state(json);
    } catch (const ailog::StateError&) {
        return 0;
    }
    const std::string once = ailog::serialize_state(state);
    std::string twice;
    try {
        twice = ailog::serialize_state(ailog::parse_state(once));
    } catch (const ailog::StateError&) {
        __builtin_trap();  // what it wrote, it cannot read
    }
    if (once != twice) __builtin_trap();
    return 0;
}
