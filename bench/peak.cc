// Peak FP32 FMA probe: per-target independent FMA chains (foreach_target + dynamic dispatch) and
// a multi-threaded wall-clock measurement of their throughput.
#include "bench/peak.h"

#include <cstddef>
#include <cstdint>

#include "tensor/simd_targets.h"  // must precede foreach_target (target policy)

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/peak.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Independent accumulators. Zen 4 and other recent x86 cores issue 2 FMAs per cycle with 4-cycle
// latency, so at least 8 chains are needed to keep both pipes busy; 12 adds slack and still fits
// the 16 vector registers of AVX2/SSE4 with the two constants.
constexpr size_t kFmaChains = 12;

// `mul` and `add` come from volatile storage: with compile-time constants GCC proves that each
// chain sits at its rounding fixed point (c * m + a == c) and deletes the loop.
HWY_NOINLINE float RunFmaChainsT(size_t iters, float mul, float add) {
  const hn::ScalableTag<float> d;
  // acc = acc * m + a converges to a / (1 - m) = 1: values stay normal, never denormal/inf.
  const auto m = hn::Set(d, mul);
  const auto a = hn::Set(d, add);
  auto c0 = hn::Set(d, 1.00f), c1 = hn::Set(d, 1.01f), c2 = hn::Set(d, 1.02f);
  auto c3 = hn::Set(d, 1.03f), c4 = hn::Set(d, 1.04f), c5 = hn::Set(d, 1.05f);
  auto c6 = hn::Set(d, 1.06f), c7 = hn::Set(d, 1.07f), c8 = hn::Set(d, 1.08f);
  auto c9 = hn::Set(d, 1.09f), c10 = hn::Set(d, 1.10f), c11 = hn::Set(d, 1.11f);
  for (size_t i = 0; i < iters; ++i) {
    c0 = hn::MulAdd(c0, m, a);
    c1 = hn::MulAdd(c1, m, a);
    c2 = hn::MulAdd(c2, m, a);
    c3 = hn::MulAdd(c3, m, a);
    c4 = hn::MulAdd(c4, m, a);
    c5 = hn::MulAdd(c5, m, a);
    c6 = hn::MulAdd(c6, m, a);
    c7 = hn::MulAdd(c7, m, a);
    c8 = hn::MulAdd(c8, m, a);
    c9 = hn::MulAdd(c9, m, a);
    c10 = hn::MulAdd(c10, m, a);
    c11 = hn::MulAdd(c11, m, a);
  }
  // Combine every chain so none can be optimized away.
  const auto s = hn::Add(
      hn::Add(hn::Add(hn::Add(c0, c1), hn::Add(c2, c3)), hn::Add(hn::Add(c4, c5), hn::Add(c6, c7))),
      hn::Add(hn::Add(c8, c9), hn::Add(c10, c11)));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

double FmaFlopsPerIterT() {
  const hn::ScalableTag<float> d;
  return static_cast<double>(kFmaChains * hn::Lanes(d) * 2);
}

}  // namespace HWY_NAMESPACE
}  // namespace bench
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "hwy/targets.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace bench {

HWY_EXPORT(RunFmaChainsT);
HWY_EXPORT(FmaFlopsPerIterT);

namespace {
volatile float g_mul = 0.999f;
volatile float g_add = 0.001f;
}  // namespace

float RunFmaChains(size_t iters) {
  return HWY_DYNAMIC_DISPATCH(RunFmaChainsT)(iters, g_mul, g_add);
}
double FmaFlopsPerIter() { return HWY_DYNAMIC_DISPATCH(FmaFlopsPerIterT)(); }

namespace {

// Returns the wall-clock seconds for `threads` threads each running RunFmaChains(iters).
double TimeChains(size_t threads, size_t iters) {
  std::vector<float> sink(threads, 0.0f);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) {
    workers.emplace_back([&sink, t, iters] { sink[t] = RunFmaChains(iters); });
  }
  sink[0] = RunFmaChains(iters);
  for (std::thread& w : workers) w.join();
  const auto end = std::chrono::steady_clock::now();
  volatile float keep = 0.0f;
  for (float s : sink) keep = keep + s;
  (void)keep;
  return std::chrono::duration<double>(end - start).count();
}

}  // namespace

double MeasurePeakGflops(int64_t target, size_t threads) {
  SIMDNET_CHECK(threads >= 1);
  static std::mutex mu;
  static std::map<std::pair<int64_t, size_t>, double>* cache =
      new std::map<std::pair<int64_t, size_t>, double>();
  std::lock_guard<std::mutex> lock(mu);
  const auto key = std::make_pair(target, threads);
  const auto it = cache->find(key);
  if (it != cache->end()) return it->second;

  const int64_t previous = hwy::SupportedTargets();
  if (target != 0) hwy::SetSupportedTargetsForTest(target);
  // Grow iters until one run takes >= 20 ms (thread start-up is then < 1%), then keep the best
  // of three such runs: on a shared machine the fastest run is the least disturbed one.
  size_t iters = size_t{1} << 14;
  double seconds = TimeChains(threads, iters);
  while (seconds < 0.02 && iters < (size_t{1} << 34)) {
    iters *= 2;
    seconds = TimeChains(threads, iters);
  }
  for (int rep = 0; rep < 2; ++rep) seconds = std::min(seconds, TimeChains(threads, iters));
  const double gflops = FmaFlopsPerIter() * static_cast<double>(iters) *
                        static_cast<double>(threads) / seconds * 1e-9;
  hwy::SetSupportedTargetsForTest(previous);
  (*cache)[key] = gflops;
  return gflops;
}

}  // namespace bench
}  // namespace simdnet
#endif  // HWY_ONCE
