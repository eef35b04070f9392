// Per-target Highway templates of the fused optimizer updates declared in
// optim/update.h. Every kernel processes whole vectors, then the tail with a
// one-lane tag running the same per-element code, so an element's result never
// depends on its position in the buffer.

// Normal include guard for the non-SIMD includes.
#ifndef SIMDNET_OPTIM_UPDATE_INL_H_
#define SIMDNET_OPTIM_UPDATE_INL_H_

#include <cstddef>

#include "optim/update.h"

#endif  // SIMDNET_OPTIM_UPDATE_INL_H_

// Toggle guard: this part is compiled once per target.
#if defined(SIMDNET_OPTIM_UPDATE_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_OPTIM_UPDATE_TOGGLE
#undef SIMDNET_OPTIM_UPDATE_TOGGLE
#else
#define SIMDNET_OPTIM_UPDATE_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Runs body(d, i) over full vectors of d, then over the remaining elements with
// a one-lane tag.
template <class Body>
HWY_INLINE void ForEachVector(size_t n, const Body& body) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  if (n >= N) {
    for (; i <= n - N; i += N) body(d, i);
  }
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) body(d1, i);
}

// See MomentumCoefficients in update.h for the formula.
HWY_INLINE void MomentumUpdateT(const MomentumCoefficients& k,
                                const float* HWY_RESTRICT g,
                                float* HWY_RESTRICT x, float* HWY_RESTRICT v,
                                size_t n) {
  ForEachVector(n, [&](auto d, size_t i) HWY_ATTR {
    const auto vx = hn::LoadU(d, x + i);
    const auto vg = hn::MulAdd(hn::Set(d, k.l2), vx, hn::LoadU(d, g + i));
    const auto vv = hn::MulAdd(hn::Set(d, k.a), hn::LoadU(d, v + i),
                               hn::Mul(hn::Set(d, k.c), vg));
    const auto step =
        hn::MulAdd(hn::Set(d, k.s), vv, hn::Mul(hn::Set(d, k.t), vg));
    hn::StoreU(vv, d, v + i);
    hn::StoreU(hn::MulAdd(hn::Set(d, k.decay), vx, step), d, x + i);
  });
}

// x = decay * x + t * (g + l2 * x).
HWY_INLINE void SgdUpdateT(float l2, float decay, float t,
                           const float* HWY_RESTRICT g, float* HWY_RESTRICT x,
                           size_t n) {
  ForEachVector(n, [&](auto d, size_t i) HWY_ATTR {
    const auto vx = hn::LoadU(d, x + i);
    const auto vg = hn::MulAdd(hn::Set(d, l2), vx, hn::LoadU(d, g + i));
    hn::StoreU(hn::MulAdd(hn::Set(d, decay), vx, hn::Mul(hn::Set(d, t), vg)), d,
               x + i);
  });
}

// See AdamCoefficients in update.h for the formula.
HWY_INLINE void AdamUpdateT(const AdamCoefficients& k,
                            const float* HWY_RESTRICT g, float* HWY_RESTRICT x,
                            float* HWY_RESTRICT m, float* HWY_RESTRICT v,
                            size_t n) {
  const float one_minus_b1 = 1.0f - k.beta1;
  const float one_minus_b2 = 1.0f - k.beta2;
  ForEachVector(n, [&](auto d, size_t i) HWY_ATTR {
    const auto vx = hn::LoadU(d, x + i);
    const auto vg = hn::MulAdd(hn::Set(d, k.l2), vx, hn::LoadU(d, g + i));
    const auto vm = hn::MulAdd(hn::Set(d, k.beta1), hn::LoadU(d, m + i),
                               hn::Mul(hn::Set(d, one_minus_b1), vg));
    const auto vv =
        hn::MulAdd(hn::Set(d, k.beta2), hn::LoadU(d, v + i),
                   hn::Mul(hn::Set(d, one_minus_b2), hn::Mul(vg, vg)));
    const auto denom =
        hn::MulAdd(hn::Sqrt(vv), hn::Set(d, k.inv_sqrt_bc2), hn::Set(d, k.eps));
    const auto step = hn::Mul(hn::Set(d, k.step_size), hn::Div(vm, denom));
    hn::StoreU(vm, d, m + i);
    hn::StoreU(vv, d, v + i);
    hn::StoreU(hn::Sub(hn::Mul(hn::Set(d, k.decay), vx), step), d, x + i);
  });
}

// See RmspropCoefficients in update.h for the formula.
HWY_INLINE void RmspropUpdateT(const RmspropCoefficients& k,
                               const float* HWY_RESTRICT g,
                               float* HWY_RESTRICT x, float* HWY_RESTRICT sq,
                               float* HWY_RESTRICT buf, size_t n) {
  const float one_minus_alpha = 1.0f - k.alpha;
  if (buf == nullptr) {
    ForEachVector(n, [&](auto d, size_t i) HWY_ATTR {
      const auto vx = hn::LoadU(d, x + i);
      const auto vg = hn::MulAdd(hn::Set(d, k.l2), vx, hn::LoadU(d, g + i));
      const auto vs =
          hn::MulAdd(hn::Set(d, k.alpha), hn::LoadU(d, sq + i),
                     hn::Mul(hn::Set(d, one_minus_alpha), hn::Mul(vg, vg)));
      const auto u = hn::Div(vg, hn::Add(hn::Sqrt(vs), hn::Set(d, k.eps)));
      hn::StoreU(vs, d, sq + i);
      hn::StoreU(
          hn::NegMulAdd(hn::Set(d, k.lr), u, hn::Mul(hn::Set(d, k.decay), vx)),
          d, x + i);
    });
    return;
  }
  ForEachVector(n, [&](auto d, size_t i) HWY_ATTR {
    const auto vx = hn::LoadU(d, x + i);
    const auto vg = hn::MulAdd(hn::Set(d, k.l2), vx, hn::LoadU(d, g + i));
    const auto vs =
        hn::MulAdd(hn::Set(d, k.alpha), hn::LoadU(d, sq + i),
                   hn::Mul(hn::Set(d, one_minus_alpha), hn::Mul(vg, vg)));
    const auto u = hn::Div(vg, hn::Add(hn::Sqrt(vs), hn::Set(d, k.eps)));
    const auto vb =
        hn::MulAdd(hn::Set(d, k.momentum), hn::LoadU(d, buf + i), u);
    hn::StoreU(vs, d, sq + i);
    hn::StoreU(vb, d, buf + i);
    hn::StoreU(
        hn::NegMulAdd(hn::Set(d, k.lr), vb, hn::Mul(hn::Set(d, k.decay), vx)),
        d, x + i);
  });
}

// See AdagradCoefficients in update.h for the formula.
HWY_INLINE void AdagradUpdateT(const AdagradCoefficients& k,
                               const float* HWY_RESTRICT g,
                               float* HWY_RESTRICT x, float* HWY_RESTRICT sum,
                               size_t n) {
  ForEachVector(n, [&](auto d, size_t i) HWY_ATTR {
    const auto vx = hn::LoadU(d, x + i);
    const auto vg = hn::MulAdd(hn::Set(d, k.l2), vx, hn::LoadU(d, g + i));
    const auto vs = hn::MulAdd(vg, vg, hn::LoadU(d, sum + i));
    const auto u = hn::Div(vg, hn::Add(hn::Sqrt(vs), hn::Set(d, k.eps)));
    hn::StoreU(vs, d, sum + i);
    hn::StoreU(hn::NegMulAdd(hn::Set(d, k.clr), u, vx), d, x + i);
  });
}

// Returns sum x[i]^2. Two accumulators hide the FMA latency.
HWY_INLINE float SumOfSquaresT(const float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto sum0 = hn::Zero(d);
  auto sum1 = hn::Zero(d);
  size_t i = 0;
  if (n >= 2 * N) {
    for (; i <= n - 2 * N; i += 2 * N) {
      const auto a = hn::LoadU(d, x + i);
      const auto b = hn::LoadU(d, x + i + N);
      sum0 = hn::MulAdd(a, a, sum0);
      sum1 = hn::MulAdd(b, b, sum1);
    }
  }
  if (n >= N && i <= n - N) {
    const auto a = hn::LoadU(d, x + i);
    sum0 = hn::MulAdd(a, a, sum0);
    i += N;
  }
  float total = hn::GetLane(hn::SumOfLanes(d, hn::Add(sum0, sum1)));
  for (; i < n; ++i) total += x[i] * x[i];
  return total;
}

// x *= scale.
HWY_INLINE void ScaleInPlaceT(float scale, float* HWY_RESTRICT x, size_t n) {
  ForEachVector(n, [&](auto d, size_t i) HWY_ATTR {
    hn::StoreU(hn::Mul(hn::Set(d, scale), hn::LoadU(d, x + i)), d, x + i);
  });
}

// x = min(max(x, lo), hi).
HWY_INLINE void ClampInPlaceT(float lo, float hi, float* HWY_RESTRICT x,
                              size_t n) {
  ForEachVector(n, [&](auto d, size_t i) HWY_ATTR {
    const auto clamped =
        hn::Min(hn::Max(hn::LoadU(d, x + i), hn::Set(d, lo)), hn::Set(d, hi));
    hn::StoreU(clamped, d, x + i);
  });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_OPTIM_UPDATE_TOGGLE
