// Per-target clamp kernels behind layers/clamp_kernels.h.
// Include after hwy/foreach_target.h (or once, without it, for the static target).

// Non-SIMD includes: normal include guard.
#ifndef SIMDNET_LAYERS_CLAMP_KERNELS_INL_H_
#define SIMDNET_LAYERS_CLAMP_KERNELS_INL_H_

#include <cstddef>

#endif  // SIMDNET_LAYERS_CLAMP_KERNELS_INL_H_

// Per-target include guard (toggled by foreach_target).
#if defined(SIMDNET_LAYERS_CLAMP_KERNELS_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CLAMP_KERNELS_TOGGLE
#undef SIMDNET_LAYERS_CLAMP_KERNELS_TOGGLE
#else
#define SIMDNET_LAYERS_CLAMP_KERNELS_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Returns min(max(x, lo), hi) per lane; NaN lanes stay NaN (Max/Min would drop them on x86,
// so they are restored explicitly).
template <class D, class V>
HWY_INLINE V ClampVec(D d, V x, V lo, V hi) {
  const V clamped = hn::Min(hn::Max(x, lo), hi);
  return hn::IfThenElse(hn::Eq(x, x), clamped, x);
}

// Returns (lo < x < hi) ? dy : 0 per lane.
template <class D, class V>
HWY_INLINE V ClampBackwardVec(D d, V x, V lo, V hi, V dy) {
  return hn::IfThenElseZero(hn::And(hn::Gt(x, lo), hn::Lt(x, hi)), dy);
}

// Loop drivers: full vectors, then single lanes (CappedTag<float, 1>) for the tail, so no
// access passes n and every element is computed by the same formula.
HWY_INLINE void ClampForwardSpan(const float* x, float lo, float hi, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto vlo = hn::Set(d, lo);
  const auto vhi = hn::Set(d, hi);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(ClampVec(d, hn::LoadU(d, x + i), vlo, vhi), d, y + i);
  }
  const hn::CappedTag<float, 1> d1;
  const auto slo = hn::Set(d1, lo);
  const auto shi = hn::Set(d1, hi);
  for (; i < n; ++i) hn::StoreU(ClampVec(d1, hn::LoadU(d1, x + i), slo, shi), d1, y + i);
}

HWY_INLINE void ClampBackwardSpan(const float* x, float lo, float hi, const float* dy, float* dx,
                                  size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto vlo = hn::Set(d, lo);
  const auto vhi = hn::Set(d, hi);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(ClampBackwardVec(d, hn::LoadU(d, x + i), vlo, vhi, hn::LoadU(d, dy + i)), d,
               dx + i);
  }
  const hn::CappedTag<float, 1> d1;
  const auto slo = hn::Set(d1, lo);
  const auto shi = hn::Set(d1, hi);
  for (; i < n; ++i) {
    hn::StoreU(ClampBackwardVec(d1, hn::LoadU(d1, x + i), slo, shi, hn::LoadU(d1, dy + i)), d1,
               dx + i);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CLAMP_KERNELS_TOGGLE
