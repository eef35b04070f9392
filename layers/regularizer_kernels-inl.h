// Per-target regularization gradient kernel behind layers/regularizer_kernels.h.
// Include after hwy/foreach_target.h (or once, without it, for the static target).

// Non-SIMD includes: normal include guard.
#ifndef SIMDNET_LAYERS_REGULARIZER_KERNELS_INL_H_
#define SIMDNET_LAYERS_REGULARIZER_KERNELS_INL_H_

#include <cstddef>

#endif  // SIMDNET_LAYERS_REGULARIZER_KERNELS_INL_H_

// Per-target include guard (toggled by foreach_target).
#if defined(SIMDNET_LAYERS_REGULARIZER_KERNELS_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_REGULARIZER_KERNELS_TOGGLE
#undef SIMDNET_LAYERS_REGULARIZER_KERNELS_TOGGLE
#else
#define SIMDNET_LAYERS_REGULARIZER_KERNELS_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Returns g + l1 * sign(w) + l2 * w per lane, sign(+-0) = 0 and sign(NaN) = NaN (so a NaN weight
// poisons its gradient visibly instead of being silently skipped).
template <class D, class V>
HWY_INLINE V RegularizerGradVec(D d, V w, V g, V l1, V l2) {
  const V zero = hn::Zero(d);
  // CopySign(l1, w) is +-l1; lanes where w == 0 get 0; NaN lanes compare unequal to 0 and keep
  // CopySign's finite value, so add w * 0 (NaN) to propagate the NaN.
  const V l1_term = hn::IfThenZeroElse(hn::Eq(w, zero), hn::CopySign(l1, w));
  const V nan_poison = hn::Mul(w, zero);
  return hn::Add(hn::MulAdd(l2, w, g), hn::Add(l1_term, nan_poison));
}

// Loop driver: full vectors, then one partial vector for the tail via LoadN-style masking.
HWY_INLINE void AddRegularizerGradientSpan(const float* HWY_RESTRICT w, float l1, float l2,
                                           float* HWY_RESTRICT grad, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto vl1 = hn::Set(d, l1);
  const auto vl2 = hn::Set(d, l2);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto vw = hn::LoadU(d, w + i);
    const auto vg = hn::LoadU(d, grad + i);
    hn::StoreU(RegularizerGradVec(d, vw, vg, vl1, vl2), d, grad + i);
  }
  // Tail: single lanes with the same formula (a CappedTag of one lane), so every element is
  // computed by identical arithmetic regardless of its position.
  const hn::CappedTag<float, 1> d1;
  const auto s1 = hn::Set(d1, l1);
  const auto s2 = hn::Set(d1, l2);
  for (; i < n; ++i) {
    const auto vw = hn::LoadU(d1, w + i);
    const auto vg = hn::LoadU(d1, grad + i);
    hn::StoreU(RegularizerGradVec(d1, vw, vg, s1, s2), d1, grad + i);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_REGULARIZER_KERNELS_TOGGLE
