// Dispatch table for layers/clamp_kernels.h.
#include "layers/clamp_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tensor/simd_targets.h"  // must precede foreach_target (target policy)

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/clamp_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "layers/clamp_kernels-inl.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void ClampForwardT(const float* x, float lo, float hi, float* y, size_t n) {
  ClampForwardSpan(x, lo, hi, y, n);
}
void ClampBackwardT(const float* x, float lo, float hi, const float* dy, float* dx, size_t n) {
  ClampBackwardSpan(x, lo, hi, dy, dx, n);
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
namespace {

// Floats per parallel task, as tensor/elementwise.cc (64 KiB). Chunk boundaries depend only on
// n and every element is independent, so any thread count gives identical outputs.
constexpr size_t kChunkFloats = size_t{16} * 1024;

template <class Fn>
void ForEachChunk(size_t n, ThreadPool* pool, const Fn& fn) {
  if (pool == nullptr || pool->NumThreads() <= 1 || n <= kChunkFloats) {
    fn(size_t{0}, n);
    return;
  }
  const uint64_t num_chunks = (n + kChunkFloats - 1) / kChunkFloats;
  pool->ParallelFor(num_chunks, [&](uint64_t task, size_t /*thread*/) {
    const size_t begin = static_cast<size_t>(task) * kChunkFloats;
    fn(begin, std::min(kChunkFloats, n - begin));
  });
}

}  // namespace

HWY_EXPORT(ClampForwardT);
HWY_EXPORT(ClampBackwardT);

void ClampForward(const float* x, float lo, float hi, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(ClampForwardT)(x + i, lo, hi, y + i, c);
  });
}

void ClampBackward(const float* x, float lo, float hi, const float* dy, float* dx, size_t n,
                   ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(ClampBackwardT)(x + i, lo, hi, dy + i, dx + i, c);
  });
}

}  // namespace simdnet
#endif  // HWY_ONCE
