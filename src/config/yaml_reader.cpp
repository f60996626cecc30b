// YamlReader: yaml-cpp's nodes read with their positions.
#include "config/yaml_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace ailog {

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(problems.empty() ? std::string("invalid configuration") : problems.front()),
      problems_(std::move(problems)) {}

std::string read_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError({fmt::format("{}: cannot read: {}", path, std::strerror(errno))});
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw ConfigError({fmt::format("{}: cannot read: {}", path, std::strerror(errno))});
    return text.str();
}

YAML::Node parse_yaml(std::string_view yaml, const std::string& file_name) {
    try {
        return YAML::Load(std::string(yaml));
    } catch (const YAML::ParserException& e) {
        throw ConfigError({fmt::format("{}:{}:{}: {}", file_name, e.mark.line + 1, e.mark.column + 1, e.msg)});
    }
}

std::vector<std::string> split_path(const std::string& s) {
    std::vector<std::string> out;
    size_t from = 0;
    for (;;) {
        const size_t dot = s.find('.', from);
        out.push_back(s.substr(from, dot - from));
        if (dot == std::string::npos) break;
        from = dot + 1;
    }
    return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1] ? 1 : 0)});
            diag = up;
        }
    }
    return row[b.size()];
}

void YamlReader::error(const YAML::Node& at, const std::string& message) {
    const YAML::Mark m = at.Mark();
    error_at(m.line, m.column, message);
}

void YamlReader::error_at(int line, int column, const std::string& message) {
    if (line < 0)
        problems_.push_back(fmt::format("{}: {}", file_, message));
    else
        problems_.push_back(fmt::format("{}:{}:{}: {}", file_, line + 1, column + 1, message));
}

bool YamlReader::keys(const YAML::Node& node, std::string_view what, std::initializer_list<std::string_view> known) {
    if (!node.IsMap()) {
        error(node, fmt::format("{} must be a map", what));
        return false;
    }
    for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>();
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        std::string_view best;
        size_t best_d = 4;
        for (auto k : known)
            if (const size_t d = edit_distance(key, k); d < best_d) best = k, best_d = d;
        error(kv.first, best.empty() ? fmt::format("unknown key {} in {}", key, what)
                                     : fmt::format("unknown key {} in {} (did you mean {}?)", key, what, best));
    }
    return true;
}
std::optional<std::string> YamlReader::text(const YAML::Node& parent, const char* key, bool required) {
    const YAML::Node n = parent[key];
    if (!n) {
        if (required) error(parent, fmt::format("{} is required here", key));
        return std::nullopt;
    }
    return text(n, std::string_view(key));
}
std::optional<std::string> YamlReader::text(const YAML::Node& node, std::string_view what) {
    if (!node.IsScalar()) {
        error(node, fmt::format("{} must be a string", what));
        return std::nullopt;
    }
    return node.as<std::string>();
}
std::optional<double> YamlReader::number(const YAML::Node& parent, const char* key) {
    const YAML::Node n = parent[key];
    if (!n) {
        error(parent, fmt::format("{} is required here", key));
        return std::nullopt;
    }
    return number(n, std::string_view(key));
}
std::optional<double> YamlReader::number(const YAML::Node& node, std::string_view what) {
    double v = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, v)) {
        error(node, fmt::format("{} must be a number", what));
        return std::nullopt;
    }
    return v;
}
std::optional<bool> YamlReader::boolean(const YAML::Node& node, std::string_view what) {
    bool v = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, v)) {
        error(node, fmt::format("{} must be true or false", what));
        return std::nullopt;
    }
    return v;
}
std::vector<std::string> YamlReader::texts(const YAML::Node& node, std::string_view what) {
    std::vector<std::string> out;
    if (node.IsScalar()) {
        out.push_back(node.as<std::string>());
    } else if (node.IsSequence() && node.size() > 0) {
        for (const auto& n : node)
            if (auto s = text(n, what)) out.push_back(*s);
    } else {
        error(node, fmt::format("{} must be a string or a list of strings", what));
    }
    return out;
}

}  // namespace ailog
