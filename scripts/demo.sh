#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and serves /metrics for the
# bundled sample logs (http://localhost:7467/metrics). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
scripts/build.sh build
echo "Serving http://localhost:7467/metrics for samples/*.log (Ctrl-C to stop)" >&2
exec build/ailog_exporter serve --start-at beginning "$@" samples/*.log
