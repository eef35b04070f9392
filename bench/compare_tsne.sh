#!/bin/bash
# Compares simdnet's t-SNE (//bench:tsne_bench) with scikit-learn's TSNE (Debian python3-sklearn)
# on one features file: both with perplexity 30, 1000 iterations, Barnes-Hut angle 0.5, PCA init,
# auto learning rate, 2 threads. Runs are interleaved (simdnet, sklearn, simdnet, ...) so both
# see the same machine load. Every embedding is scored by the SAME evaluator
# (bench/sklearn_tsne.py evaluate: exact KL(P || Q) with P built the scikit-learn way, and the
# 2-D 10-NN label agreement), then a table of medians, spreads and ratios is printed.
#
#   bench/compare_tsne.sh FEATURES.npy LABELS.npy [REPEATS=3] [THREADS=2]
set -euo pipefail

features="${1:?usage: compare_tsne.sh FEATURES.npy LABELS.npy [REPEATS] [THREADS]}"
labels="${2:?usage: compare_tsne.sh FEATURES.npy LABELS.npy [REPEATS] [THREADS]}"
repeats="${3:-3}"
threads="${4:-2}"
python=/usr/bin/python3  # Debian's python3 with python3-sklearn, not a pyenv python on PATH.
here="$(cd "$(dirname "$0")" && pwd)"
cd "${here}/.."

bazel build -c opt //bench:tsne_bench >/dev/null 2>&1 || bazel build -c opt //bench:tsne_bench
bin="$(bazel info -c opt bazel-bin 2>/dev/null)/bench/tsne_bench"
out="$(mktemp -d /tmp/compare_tsne.XXXXXX)"
echo "# features ${features}, labels ${labels}, ${repeats} runs each, ${threads} threads; files in ${out}"

for r in $(seq 1 "${repeats}"); do
  "${bin}" --features="${features}" --labels="${labels}" --threads="${threads}" \
    --embedding_out="${out}/simdnet_${r}.npy" | tee -a "${out}/simdnet.jsonl"
  "${python}" "${here}/sklearn_tsne.py" run --features "${features}" --threads "${threads}" \
    --embedding_out "${out}/sklearn_${r}.npy" 2>/dev/null | tee -a "${out}/sklearn.jsonl"
done

"${python}" "${here}/sklearn_tsne.py" evaluate --features "${features}" --labels "${labels}" \
  "${out}"/simdnet_*.npy "${out}"/sklearn_*.npy >"${out}/eval.jsonl"

"${python}" - "${out}" <<'EOF'
import json, statistics, sys
out = sys.argv[1]
def load(name):
    return [json.loads(l) for l in open(f"{out}/{name}") if l.strip()]
runs = {"simdnet": load("simdnet.jsonl"), "sklearn": load("sklearn.jsonl")}
evals = {}
for e in load("eval.jsonl"):
    impl = "simdnet" if "/simdnet_" in e["embedding"] else "sklearn"
    evals.setdefault(impl, []).append(e)
rows = {}
for impl in ("simdnet", "sklearn"):
    secs = [r["seconds"] for r in runs[impl]]
    kls = [e["kl_divergence"] for e in evals[impl]]
    nns = [e["knn10_agreement"] for e in evals[impl]]
    rows[impl] = (statistics.median(secs), min(secs), max(secs), statistics.median(kls),
                  min(kls), max(kls), statistics.median(nns), min(nns), max(nns))
print(f"{'impl':8} {'wall s median [min, max]':>28} {'exact KL median [min, max]':>30} "
      f"{'10-NN agreement median [min, max]':>36}")
for impl, r in rows.items():
    print(f"{impl:8} {r[0]:10.2f} [{r[1]:7.2f}, {r[2]:7.2f}] {r[3]:12.4f} [{r[4]:.4f}, {r[5]:.4f}]"
          f" {r[6]:17.4f} [{r[7]:.4f}, {r[8]:.4f}]")
s, k = rows["simdnet"], rows["sklearn"]
print(f"ratios simdnet/sklearn: wall {s[0] / k[0]:.3f}, KL {s[3] / k[3]:.4f}, "
      f"10-NN agreement {s[6] / k[6]:.4f}")
EOF
