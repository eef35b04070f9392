// Pooling dispatch table: per-target entry points around pool2d_kernels-inl.h and the public
// functions of pool2d_kernels.h, which run the best target the CPU supports.
#include "layers/pool2d_kernels.h"

#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/pool2d_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "layers/pool2d_kernels-inl.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void MaxPool2dForwardT(const Pool2dShape& s, const float* x, float* y, int32_t* argmax,
                       ThreadPool& pool) {
  PoolForwardImpl<true>(s, x, y, argmax, false, pool);
}
void MaxPool2dBackwardT(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx,
                        ThreadPool& pool) {
  MaxPoolBackwardImpl(s, dy, argmax, dx, pool);
}
void AvgPool2dForwardT(const Pool2dShape& s, const float* x, float* y, bool count_include_pad,
                       ThreadPool& pool) {
  PoolForwardImpl<false>(s, x, y, nullptr, count_include_pad, pool);
}
void AvgPool2dBackwardT(const Pool2dShape& s, const float* dy, float* dx,
                        bool count_include_pad, ThreadPool& pool) {
  AvgPoolBackwardImpl(s, dy, dx, count_include_pad, pool);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(MaxPool2dForwardT);
HWY_EXPORT(MaxPool2dBackwardT);
HWY_EXPORT(AvgPool2dForwardT);
HWY_EXPORT(AvgPool2dBackwardT);

void MaxPool2dForward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax,
                      ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(MaxPool2dForwardT)(s, x, y, argmax, pool);
}
void MaxPool2dBackward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx,
                       ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(MaxPool2dBackwardT)(s, dy, argmax, dx, pool);
}
void AvgPool2dForward(const Pool2dShape& s, const float* x, float* y, bool count_include_pad,
                      ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(AvgPool2dForwardT)(s, x, y, count_include_pad, pool);
}
void AvgPool2dBackward(const Pool2dShape& s, const float* dy, float* dx, bool count_include_pad,
                       ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(AvgPool2dBackwardT)(s, dy, dx, count_include_pad, pool);
}

}  // namespace simdnet
#endif  // HWY_ONCE
