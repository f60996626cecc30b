#!/usr/bin/env bash
# Configures (once) and builds a Meson build directory.
#   scripts/build.sh [DIR] [meson setup options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
fi
meson compile -C "$dir"
