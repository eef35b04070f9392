// Per-ISA peak FP32 FMA throughput at 1 and 2 threads ("GFLOPS" counter): the ceiling that the
// GEMM and convolution benchmarks report their "fraction of peak" against.
// clang-format off
#include "bench/per_target.h"  // first: includes tensor/simd_targets.h
// clang-format on

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "bench/peak.h"
#include "benchmark/benchmark.h"

namespace simdnet {
namespace bench {
namespace {

// Iterations of the 12 FMA chains per thread per benchmark iteration: ~1-10 ms depending on the
// ISA, so spawning the extra thread each iteration costs well under 1%.
constexpr size_t kItersPerRound = size_t{1} << 20;

void RegisterPeakBenchmarks() {
  for (const size_t threads : {size_t{1}, size_t{2}}) {
    const std::string shape = "threads:" + std::to_string(threads);
    ForAll(
        RegisterPerTarget(
            "peak_fma", shape,
            [threads](benchmark::State& state, int64_t /*target*/) {
              const double flops =
                  FmaFlopsPerIter() * static_cast<double>(kItersPerRound * threads);
              // Wall-clock time measured here, not benchmark's per-thread CPU time: the
              // second thread is ours, so only wall time counts both threads' work.
              const auto start = std::chrono::steady_clock::now();
              for (auto _ : state) {
                std::vector<std::thread> workers;
                std::vector<float> sink(threads);
                for (size_t t = 1; t < threads; ++t) {
                  workers.emplace_back([&sink, t] { sink[t] = RunFmaChains(kItersPerRound); });
                }
                sink[0] = RunFmaChains(kItersPerRound);
                for (std::thread& w : workers) w.join();
                benchmark::DoNotOptimize(sink.data());
              }
              const double seconds =
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
              state.counters["GFLOPS"] =
                  flops * static_cast<double>(state.iterations()) * 1e-9 / seconds;
            }),
        [](benchmark::internal::Benchmark* b) { b->UseRealTime()->Unit(benchmark::kMillisecond); });
  }
}

}  // namespace
}  // namespace bench
}  // namespace simdnet

int main(int argc, char** argv) {
  simdnet::bench::RegisterPeakBenchmarks();  // before Initialize: no target pinned yet
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
