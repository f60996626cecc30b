// The process's open file limit.
#pragma once

namespace ailog {

// Thousands of files need thousands of descriptors: raises the soft limit to
// the hard one.
void raise_fd_limit();

}  // namespace ailog
