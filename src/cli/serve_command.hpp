// The serve subcommand: build the pipeline from its settings and run it.
#pragma once

#include "cli/settings.hpp"

namespace ailog::cli {

// Returns the process exit code.
int run_serve(const ServeSettings& settings);

}  // namespace ailog::cli
