#!/usr/bin/env bash
# simdnet against PyTorch on torchvision networks at 224x224 (random weights and inputs: speed
# does not depend on them), side by side and interleaved: for every repetition, model and mode,
# one simdnet process then one PyTorch process. Modes: inference (eval mode, 1000-way head),
# fine-tuning with every parameter learning ("full") and with only a new 2-way head learning
# ("backbone": the rest frozen). Prints per mode the images/s of both (range over repetitions),
# the per-repetition ratio range, and the peak resident memory of the inference processes.
# Usage: bench/compare_torchvision.sh [--reps=3] [--seconds=5] [--batch=16] [models...]
#        (default models: resnet18 mobilenet_v2; any torchvision 0.14 name simdnet has:
#        simdnet summary --model=NAME)
#        SIMDNET_BINARY=path uses that simdnet binary instead of building //train:simdnet.
# Requires python3-torch, python3-torchvision, libopenblas0-pthread and time:
#        tools/setup.sh tools/apt-packages-bench.txt
set -euo pipefail
cd "$(dirname "$0")/.."

reps=3
seconds=5
batch=16
threads=2
models=()
for arg in "$@"; do
  case "${arg}" in
    --reps=*) reps="${arg#*=}" ;;
    --seconds=*) seconds="${arg#*=}" ;;
    --batch=*) batch="${arg#*=}" ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "compare_torchvision: unknown flag ${arg}" >&2; exit 1 ;;
    *) models+=("${arg}") ;;
  esac
done
[[ ${#models[@]} -gt 0 ]] || models=(resnet18 mobilenet_v2)

source bench/bench_lib.sh
require_torch compare_torchvision
if ! /usr/bin/python3 -c "import torchvision" 2>/dev/null; then
  echo "compare_torchvision: python3-torchvision is missing; run: tools/setup.sh tools/apt-packages-bench.txt" >&2
  exit 1
fi
simdnet_binary compare_torchvision
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

results="${tmp}/results.txt"  # lines: model mode rep side images_per_second peak_kb
for rep in $(seq 1 "${reps}"); do
  for model in "${models[@]}"; do
    for mode in infer full backbone; do
      echo "== repetition ${rep}/${reps}: ${model} ${mode} (uptime: $(cut -d' ' -f1-3 /proc/loadavg)) ==" >&2
      if [[ "${mode}" == infer ]]; then
        flags=(--num_classes=1000)
      else
        flags=(--num_classes=2 --bench_train="${mode}")
      fi
      /usr/bin/time -f %M -o "${tmp}/time" "${simdnet}" bench --model="${model}" \
        --batch_sizes="${batch}" --bench_seconds="${seconds}" --threads="${threads}" \
        "${flags[@]}" >"${tmp}/simdnet.out" 2>&1 || { cat "${tmp}/simdnet.out" >&2; exit 1; }
      if [[ "${mode}" == infer ]]; then
        ips="$(awk -v b="${batch}" '$1 == b && NF >= 3 {print $2; exit}' "${tmp}/simdnet.out")"
      else
        ips="$(awk -v m="${mode}" -v b="${batch}" '$1 == m && $2 == b {print $3; exit}' "${tmp}/simdnet.out")"
      fi
      echo "${model} ${mode} ${rep} simdnet ${ips} $(tail -n 1 "${tmp}/time")" >>"${results}"
      torch_env /usr/bin/time -f %M -o "${tmp}/time" /usr/bin/python3 bench/torchvision_torch.py \
        --model="${model}" --mode="${mode}" --batch="${batch}" --seconds="${seconds}" \
        --threads="${threads}" >"${tmp}/torch.json"
      ips="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["images_per_second"])' "${tmp}/torch.json")"
      echo "${model} ${mode} ${rep} pytorch ${ips} $(tail -n 1 "${tmp}/time")" >>"${results}"
    done
  done
done

echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "cpu family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
  "simdnet: $(grep -m1 -o 'SIMD target [A-Z0-9_]*' "${tmp}/simdnet.out"), ${threads} threads"
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'):" \
  "torch.set_num_threads(${threads}), OPENBLAS_NUM_THREADS=1, ${malloc_env[*]}," \
  "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset, BLAS ${blas}"
echo "batch ${batch}, 224x224; fine-tuning: 2-way head, SGD momentum 0.9, weight decay 1e-4," \
  "train mode; ${reps} interleaved repetitions of ${seconds} s per measurement (median step)"
/usr/bin/python3 - "${results}" <<'PY'
import collections, sys
runs = collections.defaultdict(dict)  # (model, mode) -> {(rep, side): (ips, kb)}
order = []
for line in open(sys.argv[1]):
    model, mode, rep, side, ips, kb = line.split()
    if (model, mode) not in order:
        order.append((model, mode))
    runs[(model, mode)][(rep, side)] = (float(ips), int(kb))
names = {"infer": "inference", "full": "fine-tune, all layers", "backbone": "fine-tune, frozen backbone"}
def span(values, fmt="%.1f"):
    return fmt % min(values) if len(values) == 1 else f"{fmt % min(values)}-{fmt % max(values)}"
print()
print(f"| {'model':12} | {'mode (images/s)':27} | {'simdnet':>11} | {'PyTorch':>11} | {'ratio':>9} |"
      f" {'peak RSS MiB simdnet / PyTorch':>30} |")
print(f"|{'-' * 14}|{'-' * 29}|{'-' * 13}|{'-' * 13}|{'-' * 11}|{'-' * 32}|")
for model, mode in order:
    r = runs[(model, mode)]
    reps = sorted({rep for rep, _ in r})
    ours = [r[(k, "simdnet")][0] for k in reps]
    theirs = [r[(k, "pytorch")][0] for k in reps]
    ratios = [a / b for a, b in zip(ours, theirs)]
    mem = ""
    if mode == "infer":
        mem = (span([r[(k, 'simdnet')][1] / 1024 for k in reps], '%.0f') + " / " +
               span([r[(k, 'pytorch')][1] / 1024 for k in reps], '%.0f'))
    print(f"| {model:12} | {names[mode]:27} | {span(ours):>11} | {span(theirs):>11} |"
          f" {span(ratios, '%.2f'):>9} | {mem:>30} |")
PY
