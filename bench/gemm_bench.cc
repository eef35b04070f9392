// Per-ISA SGEMM benchmarks (square NN, n = 256..2048, 1 and 2 threads), reporting GFLOPS and the
// fraction of the FP32 FMA peak measured by bench/peak.h for the same target and threads.
#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/per_target.h"  // first: includes tensor/simd_targets.h
#include "bench/peak.h"
#include "benchmark/benchmark.h"
#include "hwy/aligned_allocator.h"
#include "tensor/gemm.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

void RegisterSgemm(size_t n, size_t threads) {
  const std::string shape = "n" + std::to_string(n) + "/threads:" + std::to_string(threads);
  auto group = bench::RegisterPerTarget(
      "Sgemm", shape, [n, threads](benchmark::State& state, int64_t target) {
        auto a = hwy::AllocateAligned<float>(n * n);
        auto b = hwy::AllocateAligned<float>(n * n);
        auto c = hwy::AllocateAligned<float>(n * n);
        Rng rng(1);
        rng.FillUniform(a.get(), n * n, -1.0f, 1.0f);
        rng.FillUniform(b.get(), n * n, -1.0f, 1.0f);
        ThreadPool& pool = bench::SharedPool(threads);
        const double cpu0 = bench::ProcessCpuSeconds();
        for (auto _ : state) {
          Sgemm(false, false, n, n, n, 1.0f, a.get(), n, b.get(), n, 0.0f, c.get(), n, pool);
          benchmark::DoNotOptimize(c.get());
          benchmark::ClobberMemory();
        }
        const double cpu_seconds = bench::ProcessCpuSeconds() - cpu0;
        const double flops = 2.0 * n * n * n;
        bench::SetCpuGflopsCounter(
            state, flops * 1e-9 * static_cast<double>(state.iterations()), cpu_seconds, threads);
        state.counters["GFLOPS"] = benchmark::Counter(
            flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
        state.counters["peak_frac"] = benchmark::Counter(
            flops * 1e-9 * static_cast<double>(state.iterations()) /
                bench::MeasurePeakGflops(target, threads),
            benchmark::Counter::kIsRate);
      });
  bench::ForAll(group, [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
  });
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  // SIMDNET_BENCH_QUICK=1 (the smoke test) runs tiny sizes only, so every ISA finishes fast.
  const bool quick = std::getenv("SIMDNET_BENCH_QUICK") != nullptr;
  const std::vector<size_t> sizes =
      quick ? std::vector<size_t>{64, 100} : std::vector<size_t>{256, 512, 1024, 2048};
  for (size_t threads : {1, 2}) {
    for (size_t n : sizes) simdnet::RegisterSgemm(n, threads);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
