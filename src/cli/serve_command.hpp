// The serve subcommand: build the pipeline from options and run it.
#pragma once

#include "cli/options.hpp"

namespace ailog::cli {

// Returns the process exit code.
int run_serve(const ServeOptions& options);

}  // namespace ailog::cli
