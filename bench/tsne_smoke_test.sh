#!/bin/bash
# Smoke test for bench/tsne_bench: a tiny synthetic run must succeed and print its JSON line.
set -u
bin="$1"
out="$("${bin}" --n=400 --dim=16 --clusters=4 --iterations=300 --threads=2)" || {
  echo "FAIL: tsne_bench exited with an error"; exit 1; }
echo "${out}"
for key in '"seconds"' '"kl_divergence"' '"knn10_agreement"'; do
  if [[ "${out}" != *${key}* ]]; then echo "FAIL: no ${key} in the output"; exit 1; fi
done
echo "ok: tsne_bench"
