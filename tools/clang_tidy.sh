#!/usr/bin/env bash
# Runs clang-tidy with the repository's .clang-tidy on every C++ source file (or on the files
# given as arguments). Prints the findings and exits non-zero if there are any.
set -uo pipefail
cd "$(dirname "$0")/.."
if (($# > 0)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.cc' | grep -v '^examples/')
fi
status=0
for f in "${files[@]}"; do
  [[ -f "$f" ]] || continue  # deleted in the working tree
  if ! out=$(clang-tidy --quiet "$f" -- -std=c++17 -I. -DHWY_IS_TEST -x c++ 2>&1); then
    echo "$out"
    status=1
  elif grep -q "warning:\|error:" <<<"$out"; then
    echo "$out"
    status=1
  fi
done
exit "$status"
