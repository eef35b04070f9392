#!/usr/bin/env bash
# Sets up the machine, then builds and runs every test: `bazel test //...`.
# Ends with a line "N passed, N failed" counting Bazel's test targets.
# Extra arguments go to `bazel test` (e.g. tools/test.sh --config=asan).
set -uo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh || exit 1

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bazel test "$@" //... 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

passed=$(grep -Ec '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
failed=$(grep -Ec '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD|INCOMPLETE)' "$log")
if ((rc != 0 && failed == 0)); then
  # The build itself failed before any test could report.
  failed=1
fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
