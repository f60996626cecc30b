#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang, AddressSanitizer and
# UBSan (in build-sanitize, scripts/build-sanitize.sh), and runs each for
# SECONDS (default 60) on a copy of its seed corpus in tests/fuzz/corpus/TARGET.
# A crash, a leak, a UBSan report or a timeout fails it; the input that did it
# is left in build-sanitize/artifacts/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: pipeline timestamp config state
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(pipeline timestamp config state)

scripts/build-sanitize.sh $(printf 'tests/fuzz_%s ' "${targets[@]}")
mkdir -p build-sanitize/artifacts
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in "${targets[@]}"; do
    work=$(mktemp -d)
    cp -r "tests/fuzz/corpus/$t/." "$work/"
    echo "fuzz_$t: ${seconds}s from $(ls "$work" | wc -l) seeds" >&2
    if ! "build-sanitize/tests/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
            -print_final_stats=1 -artifact_prefix="build-sanitize/artifacts/$t-" "$work" 2> "build-sanitize/fuzz_$t.log"; then
        tail -60 "build-sanitize/fuzz_$t.log" >&2
        echo "fuzz_$t: failed; the input is in build-sanitize/artifacts/" >&2
        rm -rf "$work"
        exit 1
    fi
    grep -E "^stat::number_of_executed_(runs|units)|^#[0-9]+ *DONE" "build-sanitize/fuzz_$t.log" | tail -2 >&2 || true
    rm -rf "$work"
done
