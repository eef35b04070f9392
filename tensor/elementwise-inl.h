// Per-target element-wise kernels behind tensor/elementwise.h: lane-wise vector ops (usable from
// other -inl.h files to fuse an activation into a loop) and the loop drivers that apply them.
// Include after hwy/foreach_target.h (or once, without it, for the static target).

// Non-SIMD includes: normal include guard.
#ifndef SIMDNET_TENSOR_ELEMENTWISE_INL_H_
#define SIMDNET_TENSOR_ELEMENTWISE_INL_H_

#include <cstddef>
#include <cstring>
#include <limits>

#endif  // SIMDNET_TENSOR_ELEMENTWISE_INL_H_

// Per-target include guard (toggled by foreach_target).
#if defined(SIMDNET_TENSOR_ELEMENTWISE_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_TENSOR_ELEMENTWISE_TOGGLE
#undef SIMDNET_TENSOR_ELEMENTWISE_TOGGLE
#else
#define SIMDNET_TENSOR_ELEMENTWISE_TOGGLE
#endif

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---------------------------------------------------------------------------------------------
// Lane-wise math. hwy/contrib/math covers only part of the float range; these wrappers fix the
// ends so the kernels behave like <cmath> on every input (inf, NaN, 0, denormals).

// Returns exp(x) per lane: hwy Exp (<= 1 ulp on its range [-FLT_MAX, 104]), +inf for
// x >= 88.7228394 (the first float whose exp overflows), NaN for NaN, 0 for x < -104.
template <class D, class V>
HWY_INLINE V ExpVec(D d, V x) {
  // hwy Exp converts x / ln2 to int32, which is undefined beyond its range: clamp the input,
  // then patch the lanes that must overflow or stay NaN.
  const V kOverflow = hn::Set(d, 88.72283935546875f);
  const V clamped = hn::Min(x, hn::Set(d, 100.0f));
  const V y = hn::Exp(d, clamped);
  const V inf = hn::Set(d, std::numeric_limits<float>::infinity());
  // IsNaN, not Ne(x, x): x86 Ne is an ordered compare and is false for NaN.
  return hn::IfThenElse(hn::IsNaN(x), x, hn::IfThenElse(hn::Ge(x, kOverflow), inf, y));
}

// Returns log(x) per lane: hwy Log (<= 4 ulp on (0, FLT_MAX], denormals included), -inf for
// +-0, +inf for +inf, NaN for x < 0 and NaN.
template <class D, class V>
HWY_INLINE V LogVec(D d, V x) {
  const V zero = hn::Zero(d);
  const V inf = hn::Set(d, std::numeric_limits<float>::infinity());
  // Keep hwy Log on its valid range; the special lanes are replaced below.
  const auto special = hn::Not(hn::And(hn::Gt(x, zero), hn::Lt(x, inf)));
  const V y = hn::Log(d, hn::IfThenElse(special, hn::Set(d, 1.0f), x));
  const V special_value = hn::IfThenElse(
      hn::Eq(x, zero), hn::Neg(inf),
      hn::IfThenElse(hn::Eq(x, inf), inf, hn::Set(d, std::numeric_limits<float>::quiet_NaN())));
  return hn::IfThenElse(special, special_value, y);
}

// Returns tanh(x) per lane (hwy Tanh: Expm1-based, +-1 beyond |x| > 18.7; NaN stays NaN).
template <class D, class V>
HWY_INLINE V TanhVec(D d, V x) {
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Tanh(d, x));
}

// Returns 1 / (1 + exp(-x)) per lane. Uses e = exp(-|x|) <= 1 so nothing overflows, and
// e / (1 + e) for x < 0 so tiny results keep their relative accuracy.
template <class D, class V>
HWY_INLINE V SigmoidVec(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V e = ExpVec(d, hn::Neg(hn::Abs(x)));
  const V num = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, one);
  return hn::Div(num, hn::Add(one, e));
}

// Returns max(x, 0) per lane.
template <class D, class V>
HWY_INLINE V ReluVec(D d, V x) {
  return hn::Max(x, hn::Zero(d));
}

// Returns x > 0 ? x : slope * x per lane.
template <class D, class V>
HWY_INLINE V LeakyReluVec(D d, V x, V slope) {
  return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), x, hn::Mul(x, slope));
}

// ---------------------------------------------------------------------------------------------
// Loop drivers. `op(d, v...)` is a functor with a templated call operator; it is applied to full
// vectors, then once to a zero-padded stack copy of the tail (so no load or store touches memory
// past n, and the tail uses exactly the same instructions as the body). Outputs may alias inputs
// exactly (in-place), never partially.

// Returns the number of floats in the largest vector of this target (tail buffer size).
constexpr size_t kMaxFloatLanes = HWY_LANES(float);

// y[i] = op(d, x[i]) for i in [0, n).
template <class Op>
HWY_INLINE void MapUnary(const float* x, float* y, size_t n, const Op& op) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(op(d, hn::LoadU(d, x + i)), d, y + i);
  }
  if (i == n) return;
  const size_t rem = n - i;
  HWY_ALIGN float bx[kMaxFloatLanes] = {};
  std::memcpy(bx, x + i, rem * sizeof(float));
  hn::Store(op(d, hn::Load(d, bx)), d, bx);
  std::memcpy(y + i, bx, rem * sizeof(float));
}

// y[i] = op(d, a[i], b[i]) for i in [0, n).
template <class Op>
HWY_INLINE void MapBinary(const float* a, const float* b, float* y, size_t n, const Op& op) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(op(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, y + i);
  }
  if (i == n) return;
  const size_t rem = n - i;
  HWY_ALIGN float ba[kMaxFloatLanes] = {};
  HWY_ALIGN float bb[kMaxFloatLanes] = {};
  std::memcpy(ba, a + i, rem * sizeof(float));
  std::memcpy(bb, b + i, rem * sizeof(float));
  hn::Store(op(d, hn::Load(d, ba), hn::Load(d, bb)), d, ba);
  std::memcpy(y + i, ba, rem * sizeof(float));
}

// ---------------------------------------------------------------------------------------------
// Functors for the drivers (one per public kernel).

struct AddOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const {
    return hn::Add(a, b);
  }
};
struct SubOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const {
    return hn::Sub(a, b);
  }
};
struct MulOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const {
    return hn::Mul(a, b);
  }
};
struct AddScalarOp {
  float s;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return hn::Add(x, hn::Set(d, s));
  }
};
struct MulScalarOp {
  float s;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return hn::Mul(x, hn::Set(d, s));
  }
};
// (x, y) -> alpha * x + y, one fused multiply-add where the target has FMA.
struct AxpyOp {
  float alpha;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x, V y) const {
    return hn::MulAdd(hn::Set(d, alpha), x, y);
  }
};
struct ExpOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return ExpVec(d, x);
  }
};
struct LogOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return LogVec(d, x);
  }
};
struct ReluOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return ReluVec(d, x);
  }
};
// (x, dy) -> x > 0 ? dy : 0.
struct ReluBackwardOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x, V dy) const {
    return hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), dy);
  }
};
struct LeakyReluOp {
  float slope;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return LeakyReluVec(d, x, hn::Set(d, slope));
  }
};
// (x, dy) -> dy * (x > 0 ? 1 : slope).
struct LeakyReluBackwardOp {
  float slope;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x, V dy) const {
    return hn::IfThenElse(hn::Gt(x, hn::Zero(d)), dy, hn::Mul(dy, hn::Set(d, slope)));
  }
};
struct TanhOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return TanhVec(d, x);
  }
};
// (y, dy) -> dy * (1 - y^2).
struct TanhBackwardOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V y, V dy) const {
    return hn::Mul(dy, hn::NegMulAdd(y, y, hn::Set(d, 1.0f)));
  }
};
struct SigmoidOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return SigmoidVec(d, x);
  }
};
// (y, dy) -> dy * y * (1 - y).
struct SigmoidBackwardOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V y, V dy) const {
    return hn::Mul(hn::Mul(dy, y), hn::Sub(hn::Set(d, 1.0f), y));
  }
};

// ---------------------------------------------------------------------------------------------
// Span kernels (serial). The dispatch table in elementwise.cc wraps these; fused kernels in other
// -inl.h files may call them directly.

HWY_INLINE void FillSpan(float* y, size_t n, float value) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto v = hn::Set(d, value);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(v, d, y + i);
  for (; i < n; ++i) y[i] = value;
}

HWY_INLINE void CopySpan(const float* x, float* y, size_t n) {
  // memmove: exact aliasing (x == y) is allowed by the contract.
  if (n != 0 && x != y) std::memmove(y, x, n * sizeof(float));
}

HWY_INLINE void AxpySpan(float alpha, const float* x, float* y, size_t n) {
  MapBinary(x, y, y, n, AxpyOp{alpha});
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_TENSOR_ELEMENTWISE_TOGGLE
