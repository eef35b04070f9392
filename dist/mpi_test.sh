#!/usr/bin/env bash
# Data-parallel training under `mpirun -np 2` (1 thread per rank) against single-process runs
# of the same binary on a slice of Fashion-MNIST:
#   1. lenet5 with augmentation, 101 steps (the last global batch has 1 sample: rank 1's share is
#      empty): the 2-rank weights equal the 1-rank ones to a relative 1e-4 of each tensor's
#      largest value (measured 9e-6), the momentum buffers to 3e-3 (measured 1e-3: one element
#      of the first conv's, a sum with heavy cancellation); float summation order only;
#      the same with class weights (xent's mean divides by the batch's weight sum), and for a
#      model with dropout (masks drawn per sample, 51 steps);
#   2. a BatchNorm model, 101 steps: BatchNorm normalizes with each rank's local batch statistics
#      (16 samples, not 32), so the weights are not expected to match; test accuracy within 4
#      points and loss within 15% of the 1-rank run (measured 0.4 points, 4%);
#   3. checkpoints resume across rank counts (2 -> 1 and 1 -> 2 after 40 steps) and end with the
#      uninterrupted 1-rank weights (same tolerances);
#   4. SIGTERM to one rank stops both after the same batch with a checkpoint (exit 143), and the
#      run resumes to completion;
#   5. a killed rank (SIGKILL) ends the job within 30 s; a hung rank (SIGSTOP) makes the other
#      exit with the watchdog's error within --dist_timeout (5 s) + 25 s.
set -euo pipefail
SIMDNET="$(realpath "$1")"
DIFF="$(realpath "$2")"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
DATA=/usr/share/datasets/fashion-mnist
[[ -f "$DATA/train-images-idx3-ubyte.gz" ]] || { echo "Fashion-MNIST is not installed" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "mpirun is not installed (openmpi-bin)" >&2; exit 1; }
# Open MPI keeps its session directory and Unix sockets under TMPDIR; Bazel's test TMPDIR is
# longer than a socket path may be.
export TMPDIR=/tmp
fail() { echo "FAIL: $*" >&2; exit 1; }
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
COMMON=(--train_samples=3201 --test_samples=500 --batch_size=32 --epochs=1 --threads=1
        --report=false --progress=false)

# Prints the largest relative differences; fails with the listing when one exceeds 1e-4
# (weights) or 3e-3 (momentum).
same_weights() {  # WHAT A B
  "$DIFF" "$2" "$3" --rtol=1e-4 --optimizer_rtol=3e-3 > "$TMP/diff.txt" \
    || { cat "$TMP/diff.txt"; fail "$1"; }
  echo "$1: $(tail -1 "$TMP/diff.txt")"
}
test_acc() { sed -n 's/^final test accuracy: \([0-9.]*\)%.*loss \([0-9.]*\)$/\1 \2/p' "$1"; }

# 1. lenet5, 1 rank vs 2 ranks.
L=(train --model=lenet5 --augment=hflip,crop=2 "${COMMON[@]}")
"$SIMDNET" "${L[@]}" --out="$TMP/l1" > "$TMP/l1.log" 2>&1 || { cat "$TMP/l1.log"; fail "1-rank lenet5"; }
"${MPIRUN[@]}" "$SIMDNET" "${L[@]}" --out="$TMP/l2" > "$TMP/l2.log" 2>&1 \
  || { cat "$TMP/l2.log"; fail "2-rank lenet5"; }
grep -q "data-parallel: MPI" "$TMP/l2.log" || fail "the 2-rank run did not run data-parallel"
grep -q "data-parallel" "$TMP/l1.log" && fail "the plain run is not a single process"
[[ $(tail -1 "$TMP/l2/iterations.csv" | cut -d, -f1) == 101 ]] || fail "not 101 steps"
same_weights "lenet5, 101 steps, 2 ranks vs 1" "$TMP/l1/checkpoint.safetensors" \
  "$TMP/l2/checkpoint.safetensors"

# Class weights: each rank's share is its part of the global batch's target-weight sum.
W=("${L[@]}" --train_samples=1601 --class_weights=1,2,1,1,1,1,3,1,1,0.5)
"$SIMDNET" "${W[@]}" --out="$TMP/w1" > "$TMP/w1.log" 2>&1 || { cat "$TMP/w1.log"; fail "w1"; }
"${MPIRUN[@]}" "$SIMDNET" "${W[@]}" --out="$TMP/w2" > "$TMP/w2.log" 2>&1 \
  || { cat "$TMP/w2.log"; fail "2-rank class weights"; }
same_weights "lenet5, class weights, 51 steps, 2 ranks vs 1" "$TMP/w1/checkpoint.safetensors" \
  "$TMP/w2/checkpoint.safetensors"

# Dropout: masks are drawn per (epoch, sample), so a rank's share of a batch gets the masks the
# single-process run draws for those samples.
cat > "$TMP/drop.spec" <<'SPEC_EOF'
input 1x28x28
conv 6 k5 p2; relu; maxpool k2
conv 16 k5; relu; maxpool k2
flatten; linear 120; relu; dropout 0.5; linear 84; relu; dropout 0.3; linear classes
SPEC_EOF
D=(train --model="$TMP/drop.spec" "${COMMON[@]}" --train_samples=1601)
"$SIMDNET" "${D[@]}" --out="$TMP/d1" > "$TMP/d1.log" 2>&1 || { cat "$TMP/d1.log"; fail "d1"; }
"${MPIRUN[@]}" "$SIMDNET" "${D[@]}" --out="$TMP/d2" > "$TMP/d2.log" 2>&1 \
  || { cat "$TMP/d2.log"; fail "2-rank dropout"; }
same_weights "dropout model, 51 steps, 2 ranks vs 1" "$TMP/d1/checkpoint.safetensors" \
  "$TMP/d2/checkpoint.safetensors"

# Other commands refuse to run once per rank.
"${MPIRUN[@]}" "$SIMDNET" eval --checkpoint="$TMP/l2/checkpoint.safetensors" > "$TMP/ev.log" 2>&1 \
  && fail "eval under mpirun accepted"
grep -q "eval: only \`train\` runs data-parallel under mpirun" "$TMP/ev.log" \
  || { cat "$TMP/ev.log"; fail "eval under mpirun: no error"; }

# 2. A BatchNorm model, 1 rank vs 2 ranks.
cat > "$TMP/bn.spec" <<'SPEC_EOF'
input 1x28x28
conv 8 k3 p1 nobias; bn; relu; maxpool k2
conv 16 k3 p1 nobias; bn; relu; maxpool k2
flatten; linear 32; bn; relu; linear classes
SPEC_EOF
N=(train --model="$TMP/bn.spec" "${COMMON[@]}" --train_samples=3232)
"$SIMDNET" "${N[@]}" --out="$TMP/n1" > "$TMP/n1.log" 2>&1 || { cat "$TMP/n1.log"; fail "1-rank bn"; }
"${MPIRUN[@]}" "$SIMDNET" "${N[@]}" --out="$TMP/n2" > "$TMP/n2.log" 2>&1 \
  || { cat "$TMP/n2.log"; fail "2-rank bn"; }
read -r acc1 loss1 <<< "$(test_acc "$TMP/n1.log")"
read -r acc2 loss2 <<< "$(test_acc "$TMP/n2.log")"
echo "BatchNorm model, 101 steps: test accuracy $acc1% (1 rank) vs $acc2% (2 ranks), loss $loss1 vs $loss2"
awk -v a="$acc1" -v b="$acc2" -v l="$loss1" -v m="$loss2" \
  'BEGIN { d = a - b; if (d < 0) d = -d; r = (l - m) / l; if (r < 0) r = -r;
           exit !(d <= 4 && r <= 0.15) }' || fail "BatchNorm model: 2 ranks too far from 1 rank"

# 3. Resume across rank counts: stopped after 40 steps, finished with the other rank count.
"${MPIRUN[@]}" "$SIMDNET" "${L[@]}" --stop_after=40 --out="$TMP/r21" > "$TMP/r21.log" 2>&1 \
  && fail "the 2-rank run with --stop_after did not report the interruption"
[[ $(tail -1 "$TMP/r21/iterations.csv" | cut -d, -f1) == 40 ]] \
  || { cat "$TMP/r21.log"; fail "2-rank --stop_after=40 did not stop after step 40"; }
"$SIMDNET" train --resume --threads=1 --out="$TMP/r21" > "$TMP/r21b.log" 2>&1 \
  || { cat "$TMP/r21b.log"; fail "1-rank resume of a 2-rank checkpoint"; }
same_weights "resumed 2 -> 1 ranks vs 1" "$TMP/l1/checkpoint.safetensors" \
  "$TMP/r21/checkpoint.safetensors"
"$SIMDNET" "${L[@]}" --stop_after=40 --out="$TMP/r12" > "$TMP/r12.log" 2>&1 && fail "no stop"
"${MPIRUN[@]}" "$SIMDNET" train --resume --threads=1 --out="$TMP/r12" > "$TMP/r12b.log" 2>&1 \
  || { cat "$TMP/r12b.log"; fail "2-rank resume of a 1-rank checkpoint"; }
same_weights "resumed 1 -> 2 ranks vs 1" "$TMP/l1/checkpoint.safetensors" \
  "$TMP/r12/checkpoint.safetensors"

# Starts a long 2-rank run in the background; sets JOB (mpirun's pid) and RANK1 (rank 1's pid)
# once training runs.
start_long_run() {  # OUT [flags...]
  local out="$1"; shift
  "${MPIRUN[@]}" "$SIMDNET" train --model=lenet5 --train_samples=3200 --test_samples=100 \
    --batch_size=32 --epochs=1000 --threads=1 --report=false --progress=false "$@" \
    --out="$out" > "$out.log" 2>&1 &
  JOB=$!
  RANK1=""
  for _ in $(seq 600); do
    [[ -f "$out/iterations.csv" ]] && (( $(wc -l < "$out/iterations.csv") > 3 )) && break
    sleep 0.1
  done
  for p in $(pgrep -P "$JOB"); do
    tr '\0' '\n' < "/proc/$p/environ" | grep -q '^OMPI_COMM_WORLD_RANK=1$' && RANK1=$p
  done
  [[ -n "$RANK1" ]] || { kill -9 "$JOB"; cat "$out.log"; fail "rank 1 not found"; }
}
# Waits for JOB; fails if it takes longer than LIMIT seconds. Sets RC.
wait_job() {  # LIMIT WHAT
  local t0=$SECONDS
  while kill -0 "$JOB" 2> /dev/null; do
    (( SECONDS - t0 <= $1 )) || { kill -9 "$JOB"; fail "$2: the job still runs after $1 s"; }
    sleep 0.2
  done
  RC=0
  wait "$JOB" || RC=$?
  echo "$2: the job ended after $((SECONDS - t0)) s with status $RC"
}

# 4. SIGTERM to rank 1 only: both ranks stop after the same batch, rank 0 saves.
start_long_run "$TMP/term"
kill -TERM "$RANK1"
wait_job 60 "SIGTERM to rank 1"
[[ $RC == 143 || $RC == 130 ]] || { cat "$TMP/term.log"; fail "SIGTERM: status $RC"; }
# (rank 0's stdout and stderr reach mpirun's output separately: lines may interleave)
grep -q "saved .*term/checkpoint.safetensors (resume with --resume)" "$TMP/term.log" \
  || { cat "$TMP/term.log"; fail "SIGTERM: no checkpoint saved"; }
"$SIMDNET" train --resume --epochs=2 --threads=1 --out="$TMP/term" > "$TMP/term2.log" 2>&1 \
  || { cat "$TMP/term2.log"; fail "the stopped run does not resume"; }

# 5a. SIGKILL of rank 1: mpirun ends the job and names the rank.
start_long_run "$TMP/kill" --dist_timeout=5
kill -KILL "$RANK1"
wait_job 30 "SIGKILL to rank 1"
[[ $RC != 0 ]] || fail "SIGKILL: the job exited 0"
grep -q "rank 1 .*exited on signal 9" "$TMP/kill.log" || { cat "$TMP/kill.log"; fail "SIGKILL"; }

# 5b. Rank 1 hangs (SIGSTOP): rank 0's watchdog ends the job after --dist_timeout.
start_long_run "$TMP/hang" --dist_timeout=5
kill -STOP "$RANK1"
wait_job 30 "SIGSTOP to rank 1"
[[ $RC != 0 ]] || fail "SIGSTOP: the job exited 0"
grep -q "rank 0 of 2: .* did not complete within 5 s: another rank died" "$TMP/hang.log" \
  || { cat "$TMP/hang.log"; fail "SIGSTOP: no watchdog error from rank 0"; }
echo "PASS"
