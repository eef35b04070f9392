#!/usr/bin/env bash
# Data-parallel throughput on one machine: training images/s of 1 rank x 2 threads against
# 2 ranks x 1 thread (mpirun) for lenet5 and vgg-small, and the share of the 2-rank step time
# spent waiting for the gradient allreduce. Repeats each configuration REPEATS times (default
# 3) and prints every run, so the spread on a shared machine is visible.
#   bench/dist_scaling.sh [path/to/simdnet] [repeats]
set -euo pipefail
SIMDNET="$(realpath "${1:-bazel-bin/train/simdnet}")"
REPEATS="${2:-3}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export TMPDIR=/tmp
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)

# Prints "images/s wait%" of one run: images/s from the epoch row of metrics.csv (training
# time of the epoch, data loading included), the allreduce share from the data-parallel line.
run() {  # NAME THREADS [mpirun...]
  local name="$1" threads="$2"; shift 2
  local out="$TMP/$name"
  rm -rf "$out"
  "$@" "$SIMDNET" train --model="$MODEL" --train_samples="$SAMPLES" --test_samples=100 \
    --batch_size=64 --epochs=1 --threads="$threads" --report=false --progress=false \
    --out="$out" > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
  local ips wait
  ips=$(tail -1 "$out/metrics.csv" | awk -F, '{print $NF}')
  wait=$(sed -n 's/.*waiting for the allreduce .* (\([0-9.]*\)%).*/\1/p' "$out.log")
  printf '%-10s %-22s %8.0f images/s  allreduce wait %s\n' "$MODEL" "$name" "$ips" \
    "${wait:+$wait% of step time}"
}

for MODEL in lenet5 vgg-small; do
  SAMPLES=$([[ $MODEL == lenet5 ]] && echo 12800 || echo 3200)
  for r in $(seq "$REPEATS"); do
    run "1rank_x_2threads" 2
    run "2ranks_x_1thread" 1 "${MPIRUN[@]}"
  done
done
