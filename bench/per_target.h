// Per-ISA benchmark registration: one Google Benchmark per Highway target, each pinning the
// dynamic dispatch to that target so the PUBLIC kernel functions are timed per ISA.
#ifndef SIMDNET_BENCH_PER_TARGET_H_
#define SIMDNET_BENCH_PER_TARGET_H_

// First, before any Highway header: the project target policy, so SupportedAndGeneratedTargets()
// below loops over exactly the targets compiled into the kernel libraries (it uses the including
// TU's HWY_TARGETS). clang-format (Google style regroups includes) must not move it.
// clang-format off
#include "tensor/simd_targets.h"
// clang-format on

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "hwy/targets.h"
#include "tensor/thread_pool.h"

// If a Highway header was included before tensor/simd_targets.h, Highway defined an empty
// HWY_DISABLED_TARGETS and this TU would register targets the libraries were not built for.
#if HWY_DISABLED_TARGETS == 0
#error "Include bench/per_target.h (or tensor/simd_targets.h) before any Highway header."
#endif

namespace simdnet {
namespace bench {

// Body of a per-target benchmark: the usual `for (auto _ : state)` loop calling public, dispatched
// functions. `target` is the Highway target (e.g. HWY_AVX2) the dispatch is pinned to.
using PerTargetBody = std::function<void(benchmark::State& state, int64_t target)>;

// Registers "<kernel>/<shape>/<hwy::TargetName(t)>" for every t in
// hwy::SupportedAndGeneratedTargets() and returns the registered benchmarks (in target order) so
// the caller can chain options (->UseRealTime(), ->Unit(...)). Each body first calls
// hwy::SetSupportedTargetsForTest(t), so HWY_DYNAMIC_DISPATCH in any thread picks t, and
// resets with SetSupportedTargetsForTest(0) afterwards.
// Requires: called before benchmark::RunSpecifiedBenchmarks() and while no target is pinned
// (e.g. at the start of main), since the target list honours the current pin.
inline std::vector<benchmark::internal::Benchmark*> RegisterPerTarget(const std::string& kernel,
                                                                      const std::string& shape,
                                                                      PerTargetBody body) {
  std::vector<benchmark::internal::Benchmark*> registered;
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    const std::string name = kernel + "/" + shape + "/" + hwy::TargetName(target);
    registered.push_back(
        benchmark::RegisterBenchmark(name.c_str(), [target, body](benchmark::State& state) {
          hwy::SetSupportedTargetsForTest(target);
          body(state, target);
          hwy::SetSupportedTargetsForTest(0);
        }));
  }
  return registered;
}

// Applies `configure` to every benchmark in `group` (e.g. a lambda calling ->UseRealTime()).
inline void ForAll(const std::vector<benchmark::internal::Benchmark*>& group,
                   const std::function<void(benchmark::internal::Benchmark*)>& configure) {
  for (benchmark::internal::Benchmark* b : group) configure(b);
}

// Returns the CPU seconds used so far by all threads of this process.
inline double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Sets counter GFLOPS_cpu = gflop / (cpu_seconds / threads): what the run would reach with the
// cores to itself. On a loaded machine wall-clock GFLOPS understate the kernel; this does not
// (but it also hides time a thread spends idle waiting for the others).
inline void SetCpuGflopsCounter(benchmark::State& state, double gflop, double cpu_seconds,
                                size_t threads) {
  if (cpu_seconds > 0.0) {
    state.counters["GFLOPS_cpu"] = gflop / (cpu_seconds / static_cast<double>(threads));
  }
}

// Returns the process's pool of `threads` threads, created on first use and kept: like a
// training run, whose workers and their grow-only workspaces live as long as the run. (A pool
// per benchmark started every measurement with new workers whose workspaces were fresh
// memory; on this VM the first second of such a run could be 40% slower.)
inline ThreadPool& SharedPool(size_t threads) {
  static std::map<size_t, std::unique_ptr<ThreadPool>>* pools =
      new std::map<size_t, std::unique_ptr<ThreadPool>>();
  std::unique_ptr<ThreadPool>& pool = (*pools)[threads];
  if (pool == nullptr) pool = std::make_unique<ThreadPool>(threads);
  return *pool;
}

}  // namespace bench
}  // namespace simdnet

#endif  // SIMDNET_BENCH_PER_TARGET_H_
