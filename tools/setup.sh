#!/usr/bin/env bash
# Installs the Debian packages simdnet needs (the one list: tools/apt-packages.txt).
# Idempotent: a no-op when everything is present; runs `apt-get update` only when something is
# missing. Usage: tools/setup.sh [EXTRA_LIST_FILE...]  (extra lists, e.g. for benchmarks only).
set -euo pipefail
cd "$(dirname "$0")/.."

lists=(tools/apt-packages.txt "$@")
wanted=()
for list in "${lists[@]}"; do
  while read -r line; do
    line="${line%%#*}"
    for pkg in $line; do wanted+=("$pkg"); done
  done < "$list"
done

missing=()
for pkg in "${wanted[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then missing+=("$pkg"); fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#wanted[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
