// The replay subcommand: read historic logs once and write backfill data,
// final values or a summary.
#pragma once

#include "cli/settings.hpp"

namespace ailog::cli {

// Returns the process exit code.
int run_replay(const ReplaySettings& settings);

}  // namespace ailog::cli
