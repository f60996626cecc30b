#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: on the release
# build (warnings are errors) and on a clang AddressSanitizer + UBSan build;
# then each libFuzzer target, built in the latter, for AILOG_FUZZ_SECONDS (60).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh

scripts/build.sh build-release -Dwerror=true
meson test -C build-release --print-errorlogs

scripts/build-sanitize.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C build-sanitize --print-errorlogs --timeout-multiplier 3

scripts/fuzz.sh "${AILOG_FUZZ_SECONDS:-60}"
