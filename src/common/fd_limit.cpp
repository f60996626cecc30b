// The process's open file limit.
#include "common/fd_limit.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

namespace ailog {

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
    const rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        spdlog::debug("raised the open file limit from {} to {}", before, rl.rlim_cur);
}

}  // namespace ailog
