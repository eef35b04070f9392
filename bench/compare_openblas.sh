#!/usr/bin/env bash
# Runs simdnet's SGEMM benchmark (one ISA, default: the best one this CPU supports) and
# bench/openblas_sgemm.py (OpenBLAS cblas_sgemm) on the same sizes in the same run, and prints
# GFLOPS per (n, threads) and the ratio simdnet / OpenBLAS.
# Usage: bench/compare_openblas.sh [TARGET]   (TARGET: AVX3, AVX2, SSE4 or SCALAR)
# Requires libopenblas0-pthread and python3-numpy: tools/setup.sh tools/apt-packages-bench.txt
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-}"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

source bench/bench_lib.sh
bazel build -c opt //bench:gemm_bench
target="${target:-$(best_target gemm_bench)}"
echo "== simdnet gemm_bench (${target}) =="
run_bench gemm_bench --benchmark_filter="/${target}/" --benchmark_out="${tmp}/simdnet.json" \
  --benchmark_out_format=json
echo "== OpenBLAS =="
/usr/bin/python3 bench/openblas_sgemm.py | tee "${tmp}/openblas.txt"

/usr/bin/python3 - "${tmp}/simdnet.json" "${tmp}/openblas.txt" <<'PY'
import json, sys
ours = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    _, size, threads = b["name"].split("/")[:3]
    ours[(int(size[1:]), int(threads.split(":")[1]))] = b["GFLOPS"]
print()
print(f"{'n':>5} {'thr':>3} {'simdnet':>8} {'OpenBLAS':>8} {'ratio':>6}")
for line in open(sys.argv[2]):
    n, threads, gflops = line.split()
    key = (int(n), int(threads))
    if key in ours:
        print(f"{key[0]:>5} {key[1]:>3} {ours[key]:8.1f} {float(gflops):8.1f} "
              f"{ours[key] / float(gflops):6.2f}")
PY
