// Peak FP32 FMA throughput probe per Highway target and thread count, so GEMM/conv benchmarks
// can report "fraction of peak" for the same ISA and threads.
#ifndef SIMDNET_BENCH_PEAK_H_
#define SIMDNET_BENCH_PEAK_H_

#include <cstddef>
#include <cstdint>

namespace simdnet {
namespace bench {

// Runs `iters` rounds of kFmaChains independent fused multiply-add chains (one vector each) on
// the currently dispatched target and returns a value derived from every chain (pass it to
// benchmark::DoNotOptimize). Performs FmaFlopsPerIter() * iters floating-point operations.
float RunFmaChains(size_t iters);

// Returns the FP32 operations RunFmaChains performs per iteration on the currently dispatched
// target: chains * lanes * 2 (a multiply and an add per lane, fused or not).
double FmaFlopsPerIter();

// Returns the measured peak FP32 GFLOPS of Highway target `target` (e.g. HWY_AVX2; 0 = the best
// supported target) with `threads` threads, each running its own FMA chains, best of a few
// ~20 ms runs. Results are cached per (target, threads) for the process. Pins the dispatch to
// `target` while measuring and then restores the previous pin.
// Requires: target == 0 or a single target in hwy::SupportedAndGeneratedTargets(); threads >= 1.
double MeasurePeakGflops(int64_t target, size_t threads);

}  // namespace bench
}  // namespace simdnet

#endif  // SIMDNET_BENCH_PEAK_H_
