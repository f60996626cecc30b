// The check-config subcommand: load a mapping file and say what it defines,
// or every mistake in it.
#pragma once

#include <string>

namespace ailog::cli {

// 0 and one line per metric on stdout; 2 and the mistakes on stderr.
int run_check_config(const std::string& file);

}  // namespace ailog::cli
