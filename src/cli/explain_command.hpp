// The explain subcommand: what the mapping makes of each input line, for
// someone writing a mapping file.
#pragma once

#include "cli/settings.hpp"

namespace ailog::cli {

// Reads settings.paths[0] ("-": stdin) and prints, per line, its entry kind
// (or why it was skipped), the fields read, and each series it updates.
int run_explain(const CommonSettings& settings);

}  // namespace ailog::cli
