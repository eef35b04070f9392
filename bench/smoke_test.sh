#!/bin/bash
# Smoke test for bench/: runs every benchmark binary given as an argument with a tiny
# --benchmark_min_time, so they keep building and running. Fails if a binary fails, prints no
# results, or did not register the portable SCALAR target (the per-target loop must be intact).
set -u

status=0
for bin in "$@"; do
  name="$(basename "${bin}")"
  out="${TEST_TMPDIR:-/tmp}/${name}.out"
  start_ns=$(date +%s%N)
  if ! "${bin}" --benchmark_min_time=0.001 >"${out}" 2>&1; then
    echo "FAIL: ${name} exited with an error:"
    tail -n 30 "${out}"
    status=1
    continue
  fi
  runs=$(grep -c "/SCALAR" "${out}" || true)
  if [[ "${runs}" -eq 0 ]]; then
    echo "FAIL: ${name} printed no */SCALAR results:"
    tail -n 30 "${out}"
    status=1
    continue
  fi
  elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  echo "ok: ${name} ($(grep -c "^[A-Za-z_]*/" "${out}") results, ${elapsed_ms} ms)"
done
exit "${status}"
