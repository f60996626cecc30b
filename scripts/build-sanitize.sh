#!/usr/bin/env bash
# Configures (once) and builds build-sanitize: clang with AddressSanitizer and
# UBSan, and the libFuzzer targets of tests/fuzz. Every test runs on it
# (scripts/test.sh), and so do the fuzzers (scripts/fuzz.sh): one build for
# both, with clang, which builds it in a third of the time g++ takes.
#   scripts/build-sanitize.sh [ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f build-sanitize/build.ninja ] && ! grep -q "fuzz_pipeline" build-sanitize/build.ninja; then
    echo "build-sanitize was configured otherwise (without clang's -Dfuzzing=true): remove it and run again" >&2
    exit 2
fi
if [ ! -f build-sanitize/build.ninja ]; then
    CC=clang CXX=clang++ meson setup build-sanitize -Dfuzzing=true -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true >/dev/null
fi
ninja -C build-sanitize "$@"
