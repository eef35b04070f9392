#!/usr/bin/env bash
# Trains each preset end to end in simdnet and in PyTorch (bench/torch_training.py: the same
# architecture via tools/interop/simdnet_torch.py, the same hyper-parameters and data), runs
# interleaved, then prints one table: training images/s (training loop only, test pass excluded),
# inference images/s at batch 64 and 1 (eval mode), peak resident memory of the training process,
# test accuracy after the last epoch, and the ratios simdnet/PyTorch.
# Usage: bench/compare_training.sh [--epochs=E] [--train_samples=N] [presets...]
#        (default: 1 epoch on all 60,000 images; presets lenet5 vgg-small)
#        SIMDNET_BINARY=path uses that simdnet binary instead of building //train:simdnet.
# Requires python3-torch, libopenblas0-pthread and time: tools/setup.sh tools/apt-packages-bench.txt
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=1
train_samples=0
threads=2
presets=()
for arg in "$@"; do
  case "${arg}" in
    --epochs=*) epochs="${arg#*=}" ;;
    --train_samples=*) train_samples="${arg#*=}" ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "compare_training: unknown flag ${arg}" >&2; exit 1 ;;
    *) presets+=("${arg}") ;;
  esac
done
[[ ${#presets[@]} -gt 0 ]] || presets=(lenet5 vgg-small)

source bench/bench_lib.sh
require_torch compare_training

simdnet_binary compare_training
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

peak_kb() { awk -F': ' '/Maximum resident set size/{print $2}' "$1"; }

for preset in "${presets[@]}"; do
  echo "== ${preset}: simdnet train (${epochs} epoch(s), ${threads} threads) =="
  out="${tmp}/${preset}"
  /usr/bin/time -v -o "${tmp}/${preset}.simdnet.time" "${simdnet}" train --model="${preset}" \
    --dataset=fashion-mnist --epochs="${epochs}" --train_samples="${train_samples}" \
    --batch_size=64 --normalize=per_channel --augment= \
    --optimizer="sgd:lr=0.05,momentum=0.9,nesterov=1,weight_decay=5e-4" \
    --schedule="cosine:t_max=auto" --threads="${threads}" --out="${out}" --progress=false \
    --report=false 2>"${tmp}/${preset}.simdnet.log" | tail -n 2
  "${simdnet}" bench --checkpoint="${out}/checkpoint.safetensors" --batch_sizes=1,64 \
    --threads="${threads}" >"${tmp}/${preset}.simdnet.bench" 2>&1
  echo "== ${preset}: PyTorch =="
  torch_env /usr/bin/time -v -o "${tmp}/${preset}.torch.time" /usr/bin/python3 bench/torch_training.py \
    --model="${preset}" --epochs="${epochs}" --train_samples="${train_samples}" \
    --threads="${threads}" >"${tmp}/${preset}.torch.json"
  # Both "Maximum resident set size" figures cover the whole training process (data, model,
  # training, test pass); PyTorch's also covers its inference timing after training.
  echo "$(tail -n 1 "${out}/metrics.csv") $(peak_kb "${tmp}/${preset}.simdnet.time")" \
    >"${tmp}/${preset}.simdnet.summary"
  echo "$(peak_kb "${tmp}/${preset}.torch.time")" >"${tmp}/${preset}.torch.peak"
done

echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "cpu family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
  "simdnet: $(grep -m1 -o 'SIMD target.*' "${tmp}/${presets[0]}.simdnet.bench")"
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'):" \
  "torch.set_num_threads(${threads}), OPENBLAS_NUM_THREADS=1, ${malloc_env[*]}," \
  "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset, BLAS ${blas}"
echo "both: SGD lr 0.05 momentum 0.9 nesterov, wd 5e-4 on weights, cosine per iteration," \
  "batch 64, per-channel normalization, no augmentation, ${epochs} epoch(s)," \
  "train_samples ${train_samples} (0 = all 60000), test set 10000"
/usr/bin/python3 - "${tmp}" "${presets[@]}" <<'PY'
import json, sys
tmp, presets = sys.argv[1], sys.argv[2:]
rows = []
for p in presets:
    fields = open(f"{tmp}/{p}.simdnet.summary").read().split()
    csv, peak = fields[0].split(","), int(fields[1])
    ours = {"train": float(csv[7]), "acc": float(csv[4]), "mem": peak / 1024}
    for line in open(f"{tmp}/{p}.simdnet.bench"):
        cols = line.split()
        if len(cols) >= 2 and cols[0] in ("1", "64"):
            ours["b" + cols[0]] = float(cols[1])
    t = json.load(open(f"{tmp}/{p}.torch.json"))
    theirs = {"train": t["train_images_per_second"], "acc": t["test_accuracy"],
              "mem": int(open(f"{tmp}/{p}.torch.peak").read()) / 1024,
              "b64": t["infer_images_per_second"]["64"], "b1": t["infer_images_per_second"]["1"]}
    rows.append((p, ours, theirs))
print()
print(f"| {'preset':10} | {'metric':24} | {'simdnet':>9} | {'PyTorch':>9} | {'ratio':>6} |")
print(f"|{'-' * 12}|{'-' * 26}|{'-' * 11}|{'-' * 11}|{'-' * 8}|")
metrics = [("train", "training images/s", "%.0f"), ("b64", "inference images/s b64", "%.0f"),
           ("b1", "inference images/s b1", "%.0f"), ("mem", "peak RSS MiB", "%.0f"),
           ("acc", "test accuracy", "%.4f")]
for p, ours, theirs in rows:
    for key, name, fmt in metrics:
        print(f"| {p:10} | {name:24} | {fmt % ours[key]:>9} | {fmt % theirs[key]:>9} | "
              f"{ours[key] / theirs[key]:6.2f} |")
PY
