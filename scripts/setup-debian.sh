#!/usr/bin/env bash
# Installs the Debian 12 packages ailog_exporter builds and tests with, if any
# is missing. Safe to run again: it does nothing when all are present.
set -euo pipefail

packages=(meson ninja-build cmake pkg-config g++ libcli11-dev libsimdjson-dev libspdlog-dev libfmt-dev
          libmicrohttpd-dev libgnutls28-dev libcrypt-dev prometheus-cpp-dev doctest-dev zlib1g-dev libhowardhinnant-date-dev libyaml-cpp-dev libre2-dev tzdata
          prometheus victoria-metrics curl openssl python3 python3-prometheus-client python3-yaml clang libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# --no-install-recommends keeps the prometheus package from pulling in its web assets' extras.
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
