// The mapping as a YAML file (docs/config.md): loaded into a Mapping, with
// every mistake reported as FILE:LINE:COLUMN: message. The built-in mapping is
// examples/executeparse.yml, embedded at build time and loaded the same way.
#pragma once

#include <string>
#include <string_view>

#include "ailog/mapping.hpp"
#include "config/yaml_reader.hpp"

namespace ailog {

// Throws ConfigError listing every mistake found. A file holds one mapping
// (its keys at the top), or several under `mappings:`, by name.
Mappings load_mappings(std::string_view yaml, const std::string& file_name);
// The file at `path`; a file that cannot be read is a ConfigError too.
Mappings load_mappings_file(const std::string& path);
// A file of one mapping.
Mapping load_mapping(std::string_view yaml, const std::string& file_name);
Mapping load_mapping_file(const std::string& path);
// examples/executeparse.yml, as built in.
Mapping builtin_mapping();
std::string_view builtin_mapping_yaml();

}  // namespace ailog
