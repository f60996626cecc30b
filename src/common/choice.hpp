// Choices written as words: a table of names and values, looked up both ways.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ailog {

template <typename T>
struct Choice {
    std::string_view name;
    T value;
};

template <typename T, size_t N>
std::optional<T> parse_choice(std::string_view s, const Choice<T> (&choices)[N]) {
    for (const auto& c : choices)
        if (c.name == s) return c.value;
    return std::nullopt;
}

// Every name, in the table's order (for a command line's list of choices).
template <typename T, size_t N>
std::vector<std::string> choice_names(const Choice<T> (&choices)[N]) {
    std::vector<std::string> out;
    for (const auto& c : choices) out.emplace_back(c.name);
    return out;
}

template <typename T, size_t N>
std::string_view choice_name(T value, const Choice<T> (&choices)[N]) {
    for (const auto& c : choices)
        if (c.value == value) return c.name;
    return {};
}

}  // namespace ailog
