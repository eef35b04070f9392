#!/usr/bin/env bash
# End-to-end test of the simdnet CLI on a small slice of the real Fashion-MNIST: train a tiny
# model, interrupt-free vs. resumed runs are bit-identical, evaluate, load the safetensors file
# back, predict an image, fine-tune a new 2-class head, check the report files, and check that
# bad flags and corrupt checkpoints give one-line errors.
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

SPEC="$TMP/tiny.spec"
cat > "$SPEC" <<'SPEC_EOF'
input 1x28x28
block features { conv 8 k5 s2 p2 nobias; bn; relu; maxpool k2 }
block classifier { flatten; dropout 0.2; linear classes }
SPEC_EOF
COMMON=(--model="$SPEC" --train_samples=600 --test_samples=200 --batch_size=32 --epochs=2
        --optimizer=sgd:lr=0.05,momentum=0.9 --schedule=cosine:t_max=auto --augment=crop=2
        --seed=5 --threads=2)

# 1. Uninterrupted run.
"$SIMDNET" train "${COMMON[@]}" --out="$TMP/a" > "$TMP/a.log" 2>&1 || { cat "$TMP/a.log"; fail "train"; }
grep -q "final test accuracy" "$TMP/a.log" || fail "no final accuracy line"
for f in checkpoint.safetensors best.safetensors metrics.csv iterations.csv report.html \
         loss.svg accuracy.svg lr.svg; do
  [[ -s "$TMP/a/$f" ]] || fail "missing $f"
done
[[ "$(wc -l < "$TMP/a/metrics.csv")" == 3 ]] || fail "metrics.csv should have 2 epoch rows"
grep -q "<html" "$TMP/a/report.html" || fail "report is not HTML"
grep -q "<svg width=" "$TMP/a/report.html" || fail "report has no inline SVG curves"
grep -q "Confusion" "$TMP/a/report.html" || grep -qi "confusion" "$TMP/a/report.html" \
  || fail "report has no confusion matrix"
grep -q "<svg xmlns=\"http://www.w3.org/2000/svg\"" "$TMP/a/loss.svg" || fail "loss.svg is not SVG"
grep -q "</svg>" "$TMP/a/loss.svg" || fail "loss.svg is truncated"

# 2. Interrupted mid-epoch (as Ctrl-C does, at a batch boundary), then resumed: same weights.
# An interrupted run exits 130 (as after Ctrl-C) and prints the command that resumes it; the
# resume needs no other flag: the checkpoint holds the run's model, data and optimizer flags.
rc=0
"$SIMDNET" train "${COMMON[@]}" --stop_after=27 --out="$TMP/b" > "$TMP/b1.log" 2>&1 || rc=$?
[[ $rc == 130 ]] || { cat "$TMP/b1.log"; fail "interrupted run exited $rc, not 130"; }
grep -q "stopped at epoch 2, batch 8" "$TMP/b1.log" || { cat "$TMP/b1.log"; fail "no stop"; }
grep -q -- "simdnet train --resume --out=$TMP/b" "$TMP/b1.log" || fail "no resume command printed"
"$SIMDNET" train --resume --out="$TMP/b" --threads=2 > "$TMP/b2.log" 2>&1 \
  || { cat "$TMP/b2.log"; fail "resume"; }
grep -q "resuming" "$TMP/b2.log" || fail "did not resume"
cmp <(tail -c +9 "$TMP/a/checkpoint.safetensors" | grep -a -o '"features.0.weight"[^}]*}') \
    <(tail -c +9 "$TMP/b/checkpoint.safetensors" | grep -a -o '"features.0.weight"[^}]*}') \
  || fail "tensor layout differs"
"$SIMDNET" eval --checkpoint="$TMP/a/checkpoint.safetensors" --test_samples=200 > "$TMP/ea.txt" 2>/dev/null
"$SIMDNET" eval --checkpoint="$TMP/b/checkpoint.safetensors" --test_samples=200 > "$TMP/eb.txt" 2>/dev/null
acc_a=$(grep -o 'top-1 *[0-9.]*%' "$TMP/ea.txt"); acc_b=$(grep -o 'top-1 *[0-9.]*%' "$TMP/eb.txt")
loss_a=$(grep -o 'loss [0-9.]*' "$TMP/ea.txt"); loss_b=$(grep -o 'loss [0-9.]*' "$TMP/eb.txt")
[[ -n "$acc_a" && "$acc_a" == "$acc_b" && "$loss_a" == "$loss_b" ]] \
  || fail "resumed run differs: $acc_a $loss_a vs $acc_b $loss_b"

# A real SIGINT: the run stops cleanly with a loadable checkpoint, whenever it lands.
"$SIMDNET" train "${COMMON[@]}" --epochs=50 --out="$TMP/c" > "$TMP/c.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s "$TMP/c/iterations.csv" ]] && break; sleep 0.1; done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc == 130 ]] || { cat "$TMP/c.log"; fail "SIGINT exit status $rc, not 130"; }
grep -q "stopped at epoch" "$TMP/c.log" || { cat "$TMP/c.log"; fail "SIGINT did not stop"; }
"$SIMDNET" eval --checkpoint="$TMP/c/checkpoint.safetensors" --test_samples=50 >/dev/null 2>&1 \
  || fail "checkpoint after SIGINT does not load"

# Resuming a finished run does nothing; a conflicting flag is an error; --epochs raises the budget.
cp "$TMP/a/checkpoint.safetensors" "$TMP/a_before.safetensors"
"$SIMDNET" train --resume --out="$TMP/a" > "$TMP/done.log" 2>&1 || { cat "$TMP/done.log"; fail "resume done"; }
grep -q "the run is complete (2 of 2 epochs)" "$TMP/done.log" || { cat "$TMP/done.log"; fail "no complete message"; }
cmp -s "$TMP/a/checkpoint.safetensors" "$TMP/a_before.safetensors" || fail "finished run changed on resume"
if "$SIMDNET" train --resume --out="$TMP/a" --model=lenet5 2> "$TMP/conflict.txt"; then
  fail "conflicting --model accepted on resume"
fi
grep -q -- "--model=lenet5 conflicts" "$TMP/conflict.txt" || { cat "$TMP/conflict.txt"; fail "conflict message"; }
"$SIMDNET" train --resume --out="$TMP/a" --epochs=3 --report=false > "$TMP/more.log" 2>&1 \
  || { cat "$TMP/more.log"; fail "resume with more epochs"; }
[[ "$(wc -l < "$TMP/a/metrics.csv")" == 4 ]] || fail "metrics.csv should have 3 epoch rows"

# 3. Ensemble evaluation of two checkpoints.
"$SIMDNET" eval --checkpoint="$TMP/a/checkpoint.safetensors,$TMP/a/best.safetensors" \
  --test_samples=200 > "$TMP/ens.txt" 2>/dev/null || fail "ensemble eval"
grep -q "ensemble of 2" "$TMP/ens.txt" || fail "no ensemble line"

# Ensemble training: two members with different seeds, each reported beside the ensemble.
"$SIMDNET" train "${COMMON[@]}" --epochs=1 --ensemble=2 --report=false --out="$TMP/ens" \
  > "$TMP/ens.log" 2>&1 || { cat "$TMP/ens.log"; fail "ensemble train"; }
grep -q "member 1 test accuracy" "$TMP/ens.log" || fail "no member accuracy"
grep -q "ensemble test accuracy" "$TMP/ens.log" || fail "no ensemble accuracy"
[[ -s "$TMP/ens/member_1/checkpoint.safetensors" ]] || fail "no member checkpoint"

# 4. Predict a 28x28 24-bit BMP (grey 0x80), written byte by byte.
{
  printf 'BM\x66\x09\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00'
  printf '\x28\x00\x00\x00\x1c\x00\x00\x00\x1c\x00\x00\x00\x01\x00\x18\x00'
  printf '\x00\x00\x00\x00\x30\x09\x00\x00\x13\x0b\x00\x00\x13\x0b\x00\x00'
  printf '\x00\x00\x00\x00\x00\x00\x00\x00'
  head -c 2352 /dev/zero | tr '\0' '\200'
} > "$TMP/img.bmp"
"$SIMDNET" predict --checkpoint="$TMP/a/checkpoint.safetensors" --top_k=2 "$TMP/img.bmp" \
  > "$TMP/pred.txt" 2> "$TMP/pred.err" || { cat "$TMP/pred.err"; fail "predict"; }
grep -q "img.bmp:" "$TMP/pred.txt" || fail "no prediction line"

# A folder data set without a test split: no made-up "0.00%" final accuracy.
mkdir -p "$TMP/folder/a" "$TMP/folder/b"
for i in 1 2 3; do cp "$TMP/img.bmp" "$TMP/folder/a/$i.bmp"; cp "$TMP/img.bmp" "$TMP/folder/b/$i.bmp"; done
"$SIMDNET" train --model="$SPEC" --dataset=folder --data_dir="$TMP/folder" --image_size=28x28 \
  --channels=1 --epochs=1 --batch_size=2 --report=false --out="$TMP/fo" > "$TMP/fo.log" 2>&1 \
  || { cat "$TMP/fo.log"; fail "folder train"; }
grep -q "no held-out set" "$TMP/fo.log" || { cat "$TMP/fo.log"; fail "no 'no held-out set' line"; }
grep -q "test accuracy: 0.00%" "$TMP/fo.log" && fail "a zero accuracy is reported without a test set"

# 5. Fine-tune a new 2-class head (T-shirt vs. shirt) with a frozen backbone.
"$SIMDNET" finetune --checkpoint="$TMP/a/checkpoint.safetensors" --classes=0,6 \
  --train_samples=300 --test_samples=100 --epochs=1 --batch_size=32 --freeze=features \
  --schedule=constant --optimizer=sgd:lr=0.05,momentum=0.9 --out="$TMP/ft" --threads=2 \
  > "$TMP/ft.log" 2>&1 || { cat "$TMP/ft.log"; fail "finetune"; }
grep -q "accuracy after fine-tuning" "$TMP/ft.log" || fail "no fine-tune result"
grep -q "trained from scratch" "$TMP/ft.log" || fail "no scratch comparison"
"$SIMDNET" summary --checkpoint="$TMP/ft/checkpoint.safetensors" > "$TMP/sum.txt" 2>/dev/null
grep -q "Linear(.*, 2)" "$TMP/sum.txt" || fail "fine-tuned head is not 2-class"

# 6. Bad input: one-line errors naming the flag / file, never a crash.
if "$SIMDNET" train --epochs=0 --out="$TMP/x" 2> "$TMP/err1.txt"; then fail "epochs=0 accepted"; fi
grep -q -- "--epochs" "$TMP/err1.txt" || fail "error does not name --epochs"
if "$SIMDNET" train --no_such_flag=1 2> "$TMP/err2.txt"; then fail "unknown flag accepted"; fi
grep -q "no_such_flag" "$TMP/err2.txt" || fail "error does not name the unknown flag"
head -c 100 "$TMP/a/checkpoint.safetensors" > "$TMP/trunc.safetensors"
if "$SIMDNET" eval --checkpoint="$TMP/trunc.safetensors" 2> "$TMP/err3.txt"; then
  fail "truncated checkpoint accepted"
fi
grep -q "trunc.safetensors" "$TMP/err3.txt" || fail "error does not name the file"
# Memory: a spec whose activations cannot fit is refused before training, with an estimate and
# a batch size that fits; an allocation that fails anyway ends in a message, not an abort.
printf 'input 1x28x28\nconv 65536 k1\nconv 1 k1\nflatten\nlinear classes\n' > "$TMP/huge.spec"
rc=0
"$SIMDNET" train --model="$TMP/huge.spec" --epochs=1 --out="$TMP/huge" 2> "$TMP/huge.txt" || rc=$?
[[ $rc == 1 ]] || { cat "$TMP/huge.txt"; fail "huge model: exit $rc, not 1"; }
grep -q "needs about .* GB" "$TMP/huge.txt" || { cat "$TMP/huge.txt"; fail "no memory estimate"; }
grep -q -- "try --batch_size=" "$TMP/huge.txt" || fail "no batch size suggestion"
rc=0
(ulimit -v 150000; "$SIMDNET" train --model=vgg-small --train_samples=600 --test_samples=100 \
   --epochs=1 --batch_size=256 --out="$TMP/ulimit" > "$TMP/ulimit.txt" 2>&1) || rc=$?
[[ $rc == 1 ]] || { cat "$TMP/ulimit.txt"; fail "address-space limit: exit $rc, not 1"; }
grep -q "out of memory\|needs about" "$TMP/ulimit.txt" || { cat "$TMP/ulimit.txt"; fail "no memory message"; }
"$SIMDNET" summary --model=vgg-small 2>/dev/null | grep -q "Memory (estimate): training at batch 64" \
  || fail "summary prints no memory estimate"
# summary --plan: the plan of the batch size asked for (F(4x4, 3x3) needs enough tiles).
"$SIMDNET" summary --model=vgg-small --plan > "$TMP/plan64.txt" 2>/dev/null || fail "summary --plan"
grep -q "winograd4x4" "$TMP/plan64.txt" || fail "summary --plan at batch 64 shows no F(4x4, 3x3)"
"$SIMDNET" summary --model=vgg-small --plan --batch_size=1 > "$TMP/plan1.txt" 2>/dev/null \
  || fail "summary --plan --batch_size=1"
grep -q "winograd4x4" "$TMP/plan1.txt" && fail "summary --plan at batch 1 shows F(4x4, 3x3)"
# bench: images/s per batch size and, with --profile, per-layer tables.
"$SIMDNET" bench --checkpoint="$TMP/a/checkpoint.safetensors" --batch_sizes=1,8 --bench_seconds=0.05 \
  --profile > "$TMP/bench.txt" 2>&1 || { cat "$TMP/bench.txt"; fail "bench"; }
grep -q "images/s" "$TMP/bench.txt" || fail "bench prints no images/s"
grep -q "training-step profile" "$TMP/bench.txt" || fail "bench --profile prints no training profile"
grep -q "features.0" "$TMP/bench.txt" || fail "profile lists no layer"
if "$SIMDNET" bench --batch_sizes=0 2> "$TMP/bench_err.txt"; then fail "batch size 0 accepted"; fi
grep -q -- "--batch_sizes" "$TMP/bench_err.txt" || fail "bench error does not name --batch_sizes"
"$SIMDNET" train "${COMMON[@]}" --epochs=1 --profile --report=false --out="$TMP/prof" \
  > "$TMP/prof.log" 2>&1 || { cat "$TMP/prof.log"; fail "train --profile"; }
grep -q "per-layer profile of the run" "$TMP/prof.log" || fail "train --profile prints no profile"
echo "cli e2e: all checks passed"
