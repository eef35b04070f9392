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
#include "tensor/elementwise-inl.h"  // MapUnary, MapBinary

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

struct ClampOp {
  float lo, hi;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return ClampVec(d, x, hn::Set(d, lo), hn::Set(d, hi));
  }
};
// (x, dy) -> (lo < x < hi) ? dy : 0.
struct ClampBackwardOp {
  float lo, hi;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x, V dy) const {
    return ClampBackwardVec(d, x, hn::Set(d, lo), hn::Set(d, hi), dy);
  }
};

// Span kernels on the element-wise loop drivers (tensor/elementwise-inl.h).
HWY_INLINE void ClampForwardSpan(const float* x, float lo, float hi, float* y, size_t n) {
  MapUnary(x, y, n, ClampOp{lo, hi});
}

HWY_INLINE void ClampBackwardSpan(const float* x, float lo, float hi, const float* dy, float* dx,
                                  size_t n) {
  MapBinary(x, dy, dx, n, ClampBackwardOp{lo, hi});
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CLAMP_KERNELS_TOGGLE
