// Convolution dispatch table: per-target entry points around conv2d_kernels-inl.h and the
// public functions of conv2d_kernels.h, which run the best target the CPU supports.
#include "layers/conv2d_kernels.h"

#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/conv2d_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "layers/conv2d_kernels-inl.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void Conv2dForwardT(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                    float* y, ConvEpilogue epilogue, ThreadPool& pool) {
  ConvForwardImpl(s, x, w, bias, y, epilogue == ConvEpilogue::kRelu, pool);
}

void Conv2dBackwardDataT(const Conv2dShape& s, const float* dy, const float* w, float* dx,
                         ThreadPool& pool) {
  ConvBackwardDataImpl(s, dy, w, dx, pool);
}

void Conv2dBackwardWeightsT(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                            float* dbias, ThreadPool& pool) {
  ConvBackwardWeightsImpl(s, x, dy, dw, dbias, pool);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(Conv2dForwardT);
HWY_EXPORT(Conv2dBackwardDataT);
HWY_EXPORT(Conv2dBackwardWeightsT);

void Conv2dForward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                   float* y, ConvEpilogue epilogue, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(Conv2dForwardT)(s, x, w, bias, y, epilogue, pool);
}

void Conv2dBackwardData(const Conv2dShape& s, const float* dy, const float* w, float* dx,
                        ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(Conv2dBackwardDataT)(s, dy, w, dx, pool);
}

void Conv2dBackwardWeights(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                           float* dbias, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(Conv2dBackwardWeightsT)(s, x, dy, dw, dbias, pool);
}

}  // namespace simdnet
#endif  // HWY_ONCE
