#!/usr/bin/env bash
# The main job: sets up the machine, then trains the default CNN (the vgg-small preset) on the
# embedded Fashion-MNIST (60,000 training / 10,000 test images, Debian's dataset-fashion-mnist)
# and writes a report: runs/demo/report.html (+ metrics.csv, curves, checkpoints).
# Extra arguments go to `simdnet train` (e.g. tools/demo.sh --epochs=3).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
run_dir="${SIMDNET_RUN_DIR:-$PWD/runs/demo}"
# Same configuration as the tests (-O2 from .bazelrc), so the build cache is shared.
bazel build //train:simdnet
bazel-bin/train/simdnet train --model=vgg-small --out="$run_dir" "$@"
echo "report: $run_dir/report.html"
