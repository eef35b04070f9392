// Per-target Highway implementations of the kernels declared in data/augment_kernels.h.
// Included once per target by augment_kernels.cc and augment_kernels_test.cc.
#ifndef SIMDNET_DATA_AUGMENT_KERNELS_INL_H_
#define SIMDNET_DATA_AUGMENT_KERNELS_INL_H_
#include <cstddef>
#include <cstdint>
#endif  // SIMDNET_DATA_AUGMENT_KERNELS_INL_H_

#if defined(SIMDNET_DATA_AUGMENT_KERNELS_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_DATA_AUGMENT_KERNELS_TOGGLE
#undef SIMDNET_DATA_AUGMENT_KERNELS_TOGGLE
#else
#define SIMDNET_DATA_AUGMENT_KERNELS_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// out[i] = in[i] * scale. Loads Lanes(df) bytes at a time and widens u8 -> i32 -> f32.
HWY_INLINE void U8ToFloatImpl(const uint8_t* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n,
                              float scale) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const size_t N = hn::Lanes(df);
  const auto vscale = hn::Set(df, scale);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(du8, in + i)));
    hn::StoreU(hn::Mul(v, vscale), df, out + i);
  }
  // Tail: scalar, so we never read past in[n - 1].
  for (; i < n; ++i) out[i] = static_cast<float>(in[i]) * scale;
}

// out[i] = clamp(in[i] * scale + shift, lo, hi). in may equal out.
HWY_INLINE void AffineClampImpl(const float* in, float* out, size_t n, float scale, float shift,
                                float lo, float hi) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vs = hn::Set(d, scale);
  const auto vb = hn::Set(d, shift);
  const auto vlo = hn::Set(d, lo);
  const auto vhi = hn::Set(d, hi);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::MulAdd(hn::LoadU(d, in + i), vs, vb);
    hn::StoreU(hn::Min(hn::Max(v, vlo), vhi), d, out + i);
  }
  if (i < n) {
    // Tail via a partial load/store so the SIMD and tail paths round identically (FMA).
    const size_t rem = n - i;
    HWY_ALIGN float buf[hn::MaxLanes(d)] = {};
    for (size_t k = 0; k < rem; ++k) buf[k] = in[i + k];
    const auto v = hn::MulAdd(hn::Load(d, buf), vs, vb);
    hn::Store(hn::Min(hn::Max(v, vlo), vhi), d, buf);
    for (size_t k = 0; k < rem; ++k) out[i + k] = buf[k];
  }
}

// One vector of the colour matrix: all three inputs are loaded before any output is stored, so
// in == out is safe.
template <class D, class V>
HWY_INLINE void ColorMatrixStep(D d, V r, V g, V b, const float* m, V vlo, V vhi, V* o0, V* o1,
                                V* o2) {
  V outs[3];
  for (int c = 0; c < 3; ++c) {
    V acc = hn::Set(d, m[4 * c + 3]);
    acc = hn::MulAdd(r, hn::Set(d, m[4 * c + 0]), acc);
    acc = hn::MulAdd(g, hn::Set(d, m[4 * c + 1]), acc);
    acc = hn::MulAdd(b, hn::Set(d, m[4 * c + 2]), acc);
    outs[c] = hn::Min(hn::Max(acc, vlo), vhi);
  }
  *o0 = outs[0];
  *o1 = outs[1];
  *o2 = outs[2];
}

HWY_INLINE void ColorMatrix3ClampImpl(const float* in, float* out, size_t plane, const float* m,
                                      float lo, float hi) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  const V vlo = hn::Set(d, lo);
  const V vhi = hn::Set(d, hi);
  const float* r_in = in;
  const float* g_in = in + plane;
  const float* b_in = in + 2 * plane;
  float* r_out = out;
  float* g_out = out + plane;
  float* b_out = out + 2 * plane;
  size_t i = 0;
  V o0, o1, o2;
  for (; i + N <= plane; i += N) {
    ColorMatrixStep(d, hn::LoadU(d, r_in + i), hn::LoadU(d, g_in + i), hn::LoadU(d, b_in + i), m,
                    vlo, vhi, &o0, &o1, &o2);
    hn::StoreU(o0, d, r_out + i);
    hn::StoreU(o1, d, g_out + i);
    hn::StoreU(o2, d, b_out + i);
  }
  if (i < plane) {
    const size_t rem = plane - i;
    HWY_ALIGN float r[hn::MaxLanes(d)] = {};
    HWY_ALIGN float g[hn::MaxLanes(d)] = {};
    HWY_ALIGN float b[hn::MaxLanes(d)] = {};
    for (size_t k = 0; k < rem; ++k) {
      r[k] = r_in[i + k];
      g[k] = g_in[i + k];
      b[k] = b_in[i + k];
    }
    ColorMatrixStep(d, hn::Load(d, r), hn::Load(d, g), hn::Load(d, b), m, vlo, vhi, &o0, &o1,
                    &o2);
    hn::Store(o0, d, r);
    hn::Store(o1, d, g);
    hn::Store(o2, d, b);
    for (size_t k = 0; k < rem; ++k) {
      r_out[i + k] = r[k];
      g_out[i + k] = g[k];
      b_out[i + k] = b[k];
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_DATA_AUGMENT_KERNELS_TOGGLE
