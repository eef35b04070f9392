#!/bin/bash
# Builds the data-reader and checkpoint-parser fuzz targets with clang (-fsanitize=fuzzer,address,undefined) and runs
# each for a while on a copy of its seed corpus. Not part of `bazel test` (see the
# *_fuzzer_replay_test targets for the CI replay).
#
# Needs: clang and libclang-rt-14-dev (libFuzzer), plus the project's -dev packages.
# Usage: data/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET (default 180)] [TARGET ...]
#   TARGET is idx, cifar, image or safetensors (default: all four). Output goes to $FUZZ_OUT
#   (default /tmp/simdnet_fuzz): binaries, corpora, logs and any crash-* reproducers.
# Found a crash? Copy the reproducer into data/fuzz/corpus/<target>/ so the replay test keeps it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SECONDS_PER_TARGET="${1:-180}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(idx cifar image safetensors)
OUT="${FUZZ_OUT:-/tmp/simdnet_fuzz}"
CXX="${CXX_FUZZ:-clang++}"
JOBS="${FUZZ_JOBS:-1}"
mkdir -p "$OUT"
# Installs the project's packages plus clang / libclang-rt-14-dev (a no-op when present).
"$ROOT/tools/setup.sh" "$ROOT/tools/apt-packages-fuzz.txt"

FLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -DHWY_IS_DEBUG_BUILD=1 -I"$ROOT"
       # A known, harmless shift in Debian's stb_image (see the file) must not stop campaigns.
       -fsanitize-ignorelist="$ROOT/data/fuzz/stb_ignorelist.txt")
ABSL_LIBS=(-labsl_status -labsl_statusor -labsl_cord -labsl_cord_internal -labsl_cordz_info
           -labsl_cordz_functions -labsl_cordz_handle -labsl_str_format_internal -labsl_strings
           -labsl_strings_internal -labsl_int128 -labsl_base -labsl_raw_logging_internal
           -labsl_throw_delegate -labsl_spinlock_wait -labsl_log_severity
           -labsl_bad_optional_access -labsl_bad_variant_access)
COMMON_SRCS=("$ROOT/data/dataset.cc" "$ROOT/data/shuffle.cc" "$ROOT/data/file_util.cc"
             "$ROOT/data/augment_kernels.cc" "$ROOT/tensor/tensor.cc" "$ROOT/tensor/shape.cc"
             "$ROOT/tensor/rng.cc" "$ROOT/tensor/thread_pool.cc")

declare -A SRCS=(
  [idx]="$ROOT/data/fuzz/idx_fuzzer.cc $ROOT/data/idx.cc"
  [cifar]="$ROOT/data/fuzz/cifar_fuzzer.cc $ROOT/data/cifar.cc $ROOT/data/idx.cc"
  [image]="$ROOT/data/fuzz/image_fuzzer.cc $ROOT/data/image_folder.cc $ROOT/data/fuzz/stb_instrumented.cc"
  [safetensors]="$ROOT/data/fuzz/safetensors_fuzzer.cc $ROOT/train/safetensors.cc $ROOT/tensor/atomic_file.cc"
)
# The image target compiles stb from its headers (instrumented); the others link Debian's libstb.
declare -A STB_LIB=([idx]="-lstb" [cifar]="-lstb" [image]="" [safetensors]="-lstb")

for t in "${TARGETS[@]}"; do
  [ -n "${SRCS[$t]:-}" ] || { echo "unknown target '$t' (idx, cifar, image, safetensors)" >&2; exit 2; }
  echo "== building ${t}_fuzzer"
  # shellcheck disable=SC2086
  "$CXX" "${FLAGS[@]}" ${SRCS[$t]} "${COMMON_SRCS[@]}" -o "$OUT/${t}_fuzzer" \
      "${ABSL_LIBS[@]}" ${STB_LIB[$t]} -lhwy -lz -lpthread
  mkdir -p "$OUT/corpus_$t" "$OUT/artifacts_$t"
  cp -n "$ROOT/data/fuzz/corpus/$t/"* "$OUT/corpus_$t/" 2>/dev/null || true
  echo "== running ${t}_fuzzer for ${SECONDS_PER_TARGET}s"
  ( cd "$OUT/artifacts_$t" &&
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$OUT/${t}_fuzzer" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
        -malloc_limit_mb=512 -timeout=10 -max_len=65536 -jobs="$JOBS" -workers="$JOBS" \
        -print_final_stats=1 "$OUT/corpus_$t" 2>&1 | tee "$OUT/${t}.log" | tail -n 25 ) || {
    echo "!! ${t}_fuzzer stopped with a finding; see $OUT/${t}.log and $OUT/artifacts_$t/" >&2
  }
done
echo "== done; logs in $OUT"
