#!/usr/bin/env bash
# Runs simdnet's conv2d benchmark (one ISA, default: the best one this CPU supports; the planned
# algorithm per pass) and bench/pytorch_conv.py on the same shapes, then prints GFLOPS per
# (shape, threads, pass), the ratio simdnet/PyTorch per cell and the geometric mean of the
# ratios per thread count.
# Usage: bench/compare_pytorch.sh [TARGET] [SHAPES]   (TARGET: AVX3, AVX2, SSE4 or SCALAR;
#   SHAPES: default bench/shapes/conv_s1_s8.txt; bench/shapes/conv_torchvision.txt has the
#   resnet18 and mobilenet_v2 layers)
# Requires python3-torch: tools/setup.sh tools/apt-packages-bench.txt
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-}"
shapes="${2:-bench/shapes/conv_s1_s8.txt}"
[[ "${shapes}" == /* ]] || shapes="$(pwd)/${shapes}"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "compare_pytorch: python3-torch is missing; run: tools/setup.sh tools/apt-packages-bench.txt" >&2
  exit 1
fi

source bench/bench_lib.sh
bazel build -c opt //bench:conv2d_bench
target="${target:-$(best_target conv2d_bench)}"
echo "== simdnet conv2d_bench (${target}) =="
# The same statistic as bench/pytorch_conv.py: the median of 5 runs of >= 0.2 s per cell.
run_bench conv2d_bench --shapes="${shapes}" --algorithms=planned \
  --benchmark_filter="/${target}/" --benchmark_out="${tmp}/simdnet.json" \
  --benchmark_out_format=json --benchmark_repetitions=5 --benchmark_min_time=0.2 \
  --benchmark_report_aggregates_only=true
echo "== PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') =="
/usr/bin/python3 bench/pytorch_conv.py --shapes="${shapes}" | tee "${tmp}/torch.txt"

/usr/bin/python3 - "${tmp}/simdnet.json" "${tmp}/torch.txt" <<'PY'
import json, math, sys
names = {"Conv2dForward": "fwd", "Conv2dBackwardData": "bwd_data",
         "Conv2dBackwardWeights": "bwd_weights"}
ours, ours_cpu = {}, {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    kernel, shape, threads = b["name"].split("/")[:3]
    key = (shape, int(threads.split(":")[1]), names[kernel])
    ours[key] = b["GFLOPS"]
    ours_cpu[key] = b.get("GFLOPS_cpu", float("nan"))
torch = {}
for line in open(sys.argv[2]):
    shape, threads, pass_name, gflops = line.split()
    torch[(shape, int(threads), pass_name)] = float(gflops)
print()
# simdnet_cpu: simdnet's GFLOPS per CPU-second x threads (see conv2d_bench.cc), for loaded machines.
print(f"{'shape':6} {'thr':>3} {'pass':12} {'simdnet':>8} {'simdnet_cpu':>11} {'PyTorch':>8} {'ratio':>6}")
logs = {}
for key in sorted(torch):
    if key not in ours:
        continue
    ratio = ours[key] / torch[key]
    logs.setdefault(key[1], []).append(math.log(ratio))
    print(f"{key[0]:6} {key[1]:>3} {key[2]:12} {ours[key]:8.1f} {ours_cpu[key]:11.1f} "
          f"{torch[key]:8.1f} {ratio:6.2f}")
for threads, l in sorted(logs.items()):
    print(f"geometric mean ratio, {threads} thread(s): {math.exp(sum(l) / len(l)):.2f} "
          f"over {len(l)} cells")
PY
