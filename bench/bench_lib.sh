# Shared by the comparison scripts (source it after cd to the repository root).
# run_bench NAME ARGS...: runs //bench:NAME with -c opt, benchmark output on stdout.
# best_target NAME: prints the best Highway target NAME registers (per_target.h registers in
# hwy::SupportedAndGeneratedTargets() order, so the first target listed is the best one).
run_bench() {
  local name="$1"
  shift
  bazel run -c opt "//bench:${name}" -- "$@" 2>/dev/null
}
best_target() {
  awk -F/ '/\//{print $(NF-1); exit}' <<<"$(run_bench "$1" --benchmark_list_tests)"
}

# PyTorch's best setting on this machine (as bench/pytorch_conv.py): OpenBLAS (pthread build)
# single-threaded under torch's intra-op threads, glibc malloc thresholds raised so that large
# activation buffers are not mmap'ed and unmapped every step, and no OpenBLAS core-type
# override (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, so OpenBLAS detects the CPU itself).
# torch_env CMD...: runs CMD in that environment. require_torch SCRIPT: checks (and as root
# installs) python3-torch's companions, sets ${blas} to the BLAS libblas.so.3 resolves to.
malloc_env=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=17179869184)
torch_env() {
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 "${malloc_env[@]}" "$@"
}
require_torch() {
  local script="$1" pkg
  if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "${script}: python3-torch is missing; run: tools/setup.sh tools/apt-packages-bench.txt" >&2
    exit 1
  fi
  for pkg in libopenblas0-pthread time; do
    if ! dpkg -s "${pkg}" >/dev/null 2>&1; then
      if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y "${pkg}" >/dev/null
      else
        echo "${script}: ${pkg} is missing; run: tools/setup.sh tools/apt-packages-bench.txt" >&2
        exit 1
      fi
    fi
  done
  blas="$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)"
  if [[ "${blas}" != *openblas* ]]; then
    echo "${script}: warning: libblas.so.3 is ${blas}, not OpenBLAS" >&2
  fi
}

# simdnet_binary SCRIPT: sets ${simdnet} to $SIMDNET_BINARY (a prebuilt binary, e.g. to compare
# two builds) or to //train:simdnet built with -c opt.
simdnet_binary() {
  local script="$1"
  if [[ -n "${SIMDNET_BINARY:-}" ]]; then
    simdnet="$(readlink -f "${SIMDNET_BINARY}")"
    [[ -x "${simdnet}" ]] || { echo "${script}: SIMDNET_BINARY=${SIMDNET_BINARY} is not an executable" >&2; exit 1; }
  else
    bazel build -c opt //train:simdnet 2>/dev/null
    simdnet="$(bazel info -c opt bazel-bin 2>/dev/null)/train/simdnet"
  fi
}
