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
