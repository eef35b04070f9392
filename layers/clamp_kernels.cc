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
