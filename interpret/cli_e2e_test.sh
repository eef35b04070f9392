#!/usr/bin/env bash
# End-to-end test of the interpretation subcommands of the simdnet CLI on a tiny model trained
# on a slice of the real Fashion-MNIST: every command writes readable PNGs (and CSVs) into its
# folder, inspect gathers them into one HTML page, and bad flags give one-line errors that
# name the flag.
set -euo pipefail
SIMDNET="$1"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
DATA=/usr/share/datasets/fashion-mnist
if [[ ! -f "$DATA/train-images-idx3-ubyte.gz" ]]; then
  echo "Fashion-MNIST is not installed (tools/setup.sh installs dataset-fashion-mnist)" >&2
  exit 1
fi
export SIMDNET_THREADS=2
fail() { echo "FAIL: $*" >&2; exit 1; }
is_png() { [[ -s "$1" ]] && head -c 8 "$1" | od -c | grep -q "P   N   G" || fail "$1 is not a PNG"; }

SPEC="$TMP/tiny.spec"
cat > "$SPEC" <<'SPEC_EOF'
input 1x28x28
block features { conv 8 k3 p1 nobias; bn; relu; maxpool k2; conv 8 k3 p1; relu; maxpool k2 }
block classifier { flatten; linear 32; relu; dropout 0.2; linear classes }
SPEC_EOF
"$SIMDNET" train --model="$SPEC" --train_samples=2000 --test_samples=300 --batch_size=32 \
  --epochs=2 --optimizer=sgd:lr=0.05,momentum=0.9 --seed=3 --report=false --progress=false \
  --out="$TMP/run" > "$TMP/train.log" 2>&1 || { cat "$TMP/train.log"; fail "train"; }
CK="$TMP/run/best.safetensors"
COMMON=(--checkpoint="$CK" --test_samples=300)

run() {  # run <name> <args...>: runs simdnet, keeps the log, fails with it on error
  local name="$1"; shift
  "$SIMDNET" "$@" > "$TMP/$name.log" 2>&1 || { cat "$TMP/$name.log"; fail "$name"; }
}

run filters filters "${COMMON[@]}" --layer=features.4
is_png "$TMP/run/filters/filters_features.4.png"
grep -q "features.4" "$TMP/filters.log" || fail "filters output does not name the layer"

run activations activations "${COMMON[@]}" --samples=64
is_png "$TMP/run/activations/activations.png"
[[ "$(head -1 "$TMP/run/activations/activations.csv")" == "layer,mean,std,fraction_zero,min,max" ]] \
  || fail "activations.csv header"

run init activations --init_experiment --out="$TMP/init"
is_png "$TMP/init/init_histograms.png"
for f in init_std.svg init_mean.svg; do grep -q "</svg>" "$TMP/init/$f" || fail "$f"; done

run tsne tsne "${COMMON[@]}" --samples=200 --iterations=300 --save_features
is_png "$TMP/run/tsne/tsne.png"
[[ "$(wc -l < "$TMP/run/tsne/tsne.csv")" == 201 ]] || fail "tsne.csv should have 200 rows"
[[ -s "$TMP/run/tsne/features.npy" && -s "$TMP/run/tsne/labels.npy" ]] || fail "no .npy files"
grep -q "final KL divergence" "$TMP/tsne.log" || fail "tsne prints no KL divergence"

run patches patches "${COMMON[@]}" --layer=features.5 --layer_channels=0,3 --k=4
is_png "$TMP/run/patches/patches_features.5.png"
grep -q "^channel,rank,image" "$TMP/run/patches/patches_features.5.csv" || fail "patches csv"

run saliency saliency "${COMMON[@]}" --indices=0,1 --smoothgrad_samples=4
is_png "$TMP/run/saliency/saliency.png"

run adversarial adversarial "${COMMON[@]}" --indices=0,1 --target=1 --epsilon=0.2 \
  --sweep --samples=40 --epsilons=0,0.1
is_png "$TMP/run/adversarial/adversarial.png"
grep -q "</svg>" "$TMP/run/adversarial/sweep.svg" || fail "sweep.svg is not a complete SVG"
[[ "$(wc -l < "$TMP/run/adversarial/sweep.csv")" == 3 ]] || fail "sweep.csv should have 2 rows"

run classvis classvis "${COMMON[@]}" --class=0,1 --steps=20
is_png "$TMP/run/classvis/classvis.png"

run inspect inspect "${COMMON[@]}" --samples=200 --out="$TMP/inspect"
grep -q "<html" "$TMP/inspect/inspect.html" || fail "inspect.html is not HTML"
[[ "$(grep -o 'data:image/png;base64,' "$TMP/inspect/inspect.html" | wc -l)" -ge 4 ]] \
  || fail "inspect.html embeds too few pictures"

# Bad input: one line naming the flag, exit status 1, never a crash.
expect_error() {  # expect_error <text> <args...>
  local text="$1"; shift
  local rc=0
  "$SIMDNET" "$@" > "$TMP/err.log" 2>&1 || rc=$?
  [[ $rc == 1 ]] || { cat "$TMP/err.log"; fail "expected exit 1 for: $*"; }
  grep -q -- "$text" "$TMP/err.log" || { cat "$TMP/err.log"; fail "expected '$text' for: $*"; }
}
expect_error "features.0, features.1" filters "${COMMON[@]}" --layer=features.99
expect_error "--samples=3" tsne "${COMMON[@]}" --samples=3
expect_error "nope.safetensors" filters --checkpoint="$TMP/nope.safetensors"
expect_error "--checkpoint" tsne
expect_error "--class=12" saliency "${COMMON[@]}" --class=12
expect_error "--epsilon=-1" adversarial "${COMMON[@]}" --epsilon=-1
expect_error "--layer_channels" patches "${COMMON[@]}" --layer=features.5 --layer_channels=99
expect_error "--indices" saliency "${COMMON[@]}" --indices=300
expect_error "not both" saliency "${COMMON[@]}" --indices=1 "$TMP/nope.png"
expect_error "nope.png" saliency "${COMMON[@]}" "$TMP/nope.png"
echo "PASS"
