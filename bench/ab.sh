#!/usr/bin/env bash
# Two binaries side by side: runs A B A B ... on the same arguments and prints
# the median and minimum wall time and CPU seconds (user + system) of each, and
# the most page faults and peak RSS of any run.
#
#   bench/ab.sh RUNS BINARY_A BINARY_B -- ARGS...
#   bench/ab.sh 9 /tmp/old/build/ailog_exporter build/ailog_exporter -- \
#       replay -q --output prometheus --correlation.max-age 100000d /tmp/ailog-bench/multi4/*.log
set -euo pipefail
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
runs=$1 a=$2 b=$3
shift 4
times=$(mktemp)
trap 'rm -f "$times"' EXIT
for _ in $(seq "$runs"); do
    for name in A B; do
        bin=$a
        [ "$name" = B ] && bin=$b
        /usr/bin/time -a -o "$times" -f "$name %e %U %S %R %M" "$bin" "$@" >/dev/null
    done
done
python3 - "$times" "$a" "$b" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 6 and p[0] in ("A", "B"):
        runs.setdefault(p[0], []).append((float(p[1]), float(p[2]) + float(p[3]), int(p[4]), int(p[5])))
for name, binary in (("A", sys.argv[2]), ("B", sys.argv[3])):
    r = runs[name]
    wall, cpu = [x[0] for x in r], [x[1] for x in r]
    print(f"{name} {binary}: wall median {statistics.median(wall):.3f} s, min {min(wall):.3f} s; "
          f"CPU median {statistics.median(cpu):.3f} s, min {min(cpu):.3f} s; "
          f"page faults {max(x[2] for x in r)}, peak RSS {max(x[3] for x in r) / 1024:.1f} MiB")
EOF
