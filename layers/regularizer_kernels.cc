// Dispatch table for layers/regularizer_kernels.h.
#include "layers/regularizer_kernels.h"

#include <cstddef>

#include "tensor/simd_targets.h"  // must precede foreach_target (target policy)

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/regularizer_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "layers/regularizer_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void AddRegularizerGradientT(const float* HWY_RESTRICT w, float l1, float l2,
                             float* HWY_RESTRICT grad, size_t n) {
  AddRegularizerGradientSpan(w, l1, l2, grad, n);
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(AddRegularizerGradientT);

void AddRegularizerGradient(const float* HWY_RESTRICT w, float l1, float l2,
                            float* HWY_RESTRICT grad, size_t n) {
  HWY_DYNAMIC_DISPATCH(AddRegularizerGradientT)(w, l1, l2, grad, n);
}

}  // namespace simdnet
#endif  // HWY_ONCE
