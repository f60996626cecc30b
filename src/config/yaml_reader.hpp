// YamlReader: reading a YAML document's values with their positions, and
// collecting every mistake as FILE:LINE:COLUMN: message.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace ailog {

// A configuration file that does not load.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> problems);
    // One per mistake, each "FILE:LINE:COLUMN: message".
    const std::vector<std::string>& problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

// The text of the file at `path`; one that cannot be read is a ConfigError.
std::string read_config_file(const std::string& path);

// The document of `yaml`; a syntax error is a ConfigError at its position.
YAML::Node parse_yaml(std::string_view yaml, const std::string& file_name);

class YamlReader {
public:
    explicit YamlReader(std::string file) : file_(std::move(file)) {}

    void error(const YAML::Node& at, const std::string& message);
    void error_at(int line, int column, const std::string& message);  // 0-based; line -1: no position
    std::vector<std::string>& problems() { return problems_; }

    // `node` is a map whose keys are all in `known`; an unknown key is an
    // error naming the closest known one.
    bool keys(const YAML::Node& node, std::string_view what, std::initializer_list<std::string_view> known);
    // The value of `key` in the map `parent`: missing is an error when required.
    std::optional<std::string> text(const YAML::Node& parent, const char* key, bool required = true);
    std::optional<std::string> text(const YAML::Node& node, std::string_view what);
    std::optional<double> number(const YAML::Node& parent, const char* key);
    std::optional<double> number(const YAML::Node& node, std::string_view what);
    std::optional<bool> boolean(const YAML::Node& node, std::string_view what);
    // A string, or a list of strings.
    std::vector<std::string> texts(const YAML::Node& node, std::string_view what);

    // `node` is a map of names to maps (`what` names one: "field"), each
    // with keys among `known`: `each(name, name_node, spec)` for every one
    // whose keys are right. A missing `node` is nothing to do.
    template <typename Each>
    void each_named(const YAML::Node& node, std::string_view what, std::initializer_list<std::string_view> known,
                    Each&& each) {
        if (!node) return;
        if (!node.IsMap()) return error(node, fmt::format("a map of {} names is needed here", what));
        for (const auto& kv : node) {
            const std::string name = kv.first.as<std::string>();
            if (keys(kv.second, fmt::format("{} {}", what, name), known)) each(name, kv.first, kv.second);
        }
    }

private:
    std::string file_;
    std::vector<std::string> problems_;
};

// "result.usage.tokens" -> {"result", "usage", "tokens"}
std::vector<std::string> split_path(const std::string& s);

// The fewest single-character edits that turn `a` into `b`.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace ailog
