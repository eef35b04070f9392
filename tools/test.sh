#!/usr/bin/env bash
# Sets up the machine, then builds and runs every test: `bazel test //...`, then builds and runs
# examples/consumer from its own workspace.
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

# simdnet as a dependency: examples/consumer is its own workspace (only the WORKSPACE lines the
# README documents, no .bazelrc); build and run it there. Counted as one more test. It shares
# the disk cache but not the output base, so it never invalidates the main build.
echo "=== examples/consumer (a separate workspace that depends on @simdnet) ==="
if (cd examples/consumer &&
    bazel --output_base="${HOME}/.cache/simdnet-consumer-output" run \
      --disk_cache="${HOME}/.cache/simdnet-bazel" --nosandbox_debug \
      --show_progress_rate_limit=30 //:train_tiny); then
  echo "//examples/consumer:train_tiny PASSED"
  passed=$((passed + 1))
else
  echo "//examples/consumer:train_tiny FAILED"
  failed=$((failed + 1))
  rc=1
fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
