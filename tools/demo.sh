#!/usr/bin/env bash
# The main job: sets up the machine, then trains the default model on the embedded Fashion-MNIST
# and writes a report. Until the trainer lands, it runs the per-ISA benchmarks instead.
# Extra arguments go to `simdnet train`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

if [[ -f train/simdnet_main.cc ]]; then
  run_dir="${SIMDNET_RUN_DIR:-$PWD/runs/demo}"
  bazel run -c opt //train:simdnet -- train --preset=vgg-small --out="$run_dir" "$@"
  echo "report: $run_dir/report.html"
else
  bazel run -c opt //bench:peak_flops_bench
  bazel run -c opt //bench:tensor_bench -- --benchmark_min_time=0.05
fi
