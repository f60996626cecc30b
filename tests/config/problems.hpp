// What the loader says of a mapping: its problems, none when it loads.
#pragma once

#include <string>
#include <vector>

#include "config/mapping_loader.hpp"

namespace ailog::test {

inline std::vector<std::string> problems_of(const std::string& yaml) {
    try {
        load_mapping(yaml, "t.yml");
        return {};
    } catch (const ConfigError& e) {
        return e.problems();
    }
}

inline std::string first_problem(const std::string& yaml) {
    const auto p = problems_of(yaml);
    return p.empty() ? std::string() : p.front();
}

}  // namespace ailog::test
