#!/usr/bin/env bash
# Smoke test of parity_logits without PyTorch (CI has none; tools/parity/parity.py needs it):
# on a one-batch checkpoint of a tiny model it writes logits, loss and gradients, the eval run
# is deterministic, and bad inputs give one-line errors.
set -euo pipefail
SIMDNET="$1"
PARITY_LOGITS="$2"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
DATA=/usr/share/datasets/fashion-mnist
if [[ ! -f "$DATA/train-images-idx3-ubyte.gz" ]]; then
  echo "Fashion-MNIST is not installed (tools/setup.sh installs dataset-fashion-mnist)" >&2
  exit 1
fi
export SIMDNET_THREADS=2
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$TMP/tiny.spec" <<'SPEC_EOF'
input 1x28x28
block features { conv 4 k5 s2 p2 nobias; bn; relu; maxpool k2 }
block classifier { flatten; linear classes }
SPEC_EOF
"$SIMDNET" train --model="$TMP/tiny.spec" --epochs=1 --max_batches=1 --batch_size=16 \
  --train_samples=64 --test_samples=32 --progress=false --report=false --out="$TMP/run" \
  > "$TMP/train.log" 2>&1 || { cat "$TMP/train.log"; fail "train"; }
CKPT="$TMP/run/checkpoint.safetensors"

# .npy v1.0 files: x is (2, 784) '<f4' of 1.0 (0x3f800000), y is (2,) '<i8' labels 3 and 7.
npy() {  # npy FILE DESCR SHAPE: writes the magic and the 64-byte-aligned header
  local header="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
  while (( (10 + ${#header} + 1) % 64 != 0 )); do header+=" "; done
  printf '\x93NUMPY\x01\x00' > "$1"
  printf "\\x$(printf %02x $(( (${#header} + 1) % 256 )))\\x$(printf %02x $(( (${#header} + 1) / 256 )))" >> "$1"
  printf '%s\n' "$header" >> "$1"
}
npy "$TMP/x.npy" '<f4' '(2, 784)'
for _ in $(seq 1568); do printf '\x00\x00\x80\x3f'; done >> "$TMP/x.npy"
npy "$TMP/y.npy" '<i8' '(2,)'
printf '\x03\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00' >> "$TMP/y.npy"

RUN=(--checkpoint="$CKPT" --input="$TMP/x.npy" --labels="$TMP/y.npy")
"$PARITY_LOGITS" "${RUN[@]}" --out="$TMP/a.safetensors" || fail "eval run"
"$PARITY_LOGITS" "${RUN[@]}" --out="$TMP/b.safetensors" || fail "second eval run"
cmp -s "$TMP/a.safetensors" "$TMP/b.safetensors" || fail "eval runs differ"
head -c 2000 "$TMP/a.safetensors" | grep -aq '"logits"' || fail "no logits tensor"
head -c 2000 "$TMP/a.safetensors" | grep -aq '"loss"' || fail "no loss tensor"
"$PARITY_LOGITS" "${RUN[@]}" --out="$TMP/g.safetensors" --mode=train --grads || fail "grads"
for t in grad/input grad/features.0.weight grad/features.1.bias grad/classifier.1.weight; do
  head -c 4000 "$TMP/g.safetensors" | grep -aq "\"$t\"" || fail "no $t tensor"
done

# Errors: one line naming the problem, exit 1.
expect_error() {  # expect_error PATTERN ARGS...
  local pattern="$1"
  shift
  if "$PARITY_LOGITS" "$@" > "$TMP/err.log" 2>&1; then fail "accepted: $*"; fi
  grep -q -- "$pattern" "$TMP/err.log" || { cat "$TMP/err.log"; fail "no '$pattern'"; }
  [[ $(wc -l < "$TMP/err.log") -eq 1 ]] || { cat "$TMP/err.log"; fail "not one line"; }
}
expect_error "--mode" "${RUN[@]}" --out="$TMP/e.safetensors" --mode=test
npy "$TMP/x3.npy" '<f4' '(2, 3)'
printf '\x00\x00\x80\x3f%.0s' 1 2 3 4 5 6 >> "$TMP/x3.npy"
expect_error "--input must be (N, 784)" --checkpoint="$CKPT" --input="$TMP/x3.npy" \
  --labels="$TMP/y.npy" --out="$TMP/e.safetensors"
expect_error "unsupported dtype" --checkpoint="$CKPT" --input="$TMP/y.npy" \
  --labels="$TMP/y.npy" --out="$TMP/e.safetensors"
expect_error "nope.safetensors" --checkpoint="$TMP/nope.safetensors" --input="$TMP/x.npy" \
  --labels="$TMP/y.npy" --out="$TMP/e.safetensors"
echo "PASS"
