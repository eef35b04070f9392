// Per-target batch-normalization kernels behind layers/batch_norm_kernels.h, on one channel
// range [c0, c1) of data viewed as (n, c, s). Two layouts:
// - s > 1 (NCHW): each (i, ch) row of s floats is contiguous; vectors run along the row and the
//   channel's scalars are broadcast.
// - s == 1 ((N, F) batches): the channels of one sample are contiguous; vectors run across
//   channels and the per-channel scalars are loaded as vectors.
// Tails use a one-lane tag with the same arithmetic, so an element's result does not depend on
// its position.

// Non-SIMD includes: normal include guard.
#ifndef SIMDNET_LAYERS_BATCH_NORM_KERNELS_INL_H_
#define SIMDNET_LAYERS_BATCH_NORM_KERNELS_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "layers/batch_norm_kernels.h"  // BatchNormActivation

#endif  // SIMDNET_LAYERS_BATCH_NORM_KERNELS_INL_H_

// Per-target include guard (toggled by foreach_target).
#if defined(SIMDNET_LAYERS_BATCH_NORM_KERNELS_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_BATCH_NORM_KERNELS_TOGGLE
#undef SIMDNET_LAYERS_BATCH_NORM_KERNELS_TOGGLE
#else
#define SIMDNET_LAYERS_BATCH_NORM_KERNELS_TOGGLE
#endif

#include "hwy/highway.h"
#include "layers/clamp_kernels-inl.h"  // ClampVec: the fused ReLU6 is the ReLU6 layer's clamp
#include "layers/pool2d_kernels-inl.h"  // PoolRow2x2Stride2: the fused max pooling

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The per-channel passes walk one row per image, a whole sample apart, each too short (vgg-small:
// 784 or 3136 bytes) for the hardware prefetchers to ramp up on: without help every row started
// with a wait on memory (BatchNorm ran at 20 GB/s where 2 threads stream 140 GB/s from the
// last-level cache). They prefetch the rows kRowsAhead images ahead when they are short (longer
// rows, e.g. 112 x 112 planes, stream well on their own and ran slower with the extra requests).
constexpr size_t kRowsAhead = 2;
constexpr size_t kMaxPrefetchRowBytes = 4096;
// Prefetches the cache lines of bytes [p, p + bytes), bytes >= 1 (kWrite: for writing), if
// bytes <= kMaxPrefetchRowBytes.
template <bool kWrite = false>
HWY_INLINE void PrefetchRow(const void* p, size_t bytes) {
  if (bytes > kMaxPrefetchRowBytes) return;
  const char* c = static_cast<const char*>(p);
  for (size_t j = 0; j < bytes; j += 64) __builtin_prefetch(c + j, kWrite ? 1 : 0, 3);
  __builtin_prefetch(c + bytes - 1, kWrite ? 1 : 0, 3);
}

// Whether a row of s floats at p is written with streaming (non-temporal) stores: whole
// aligned vectors of at least kMinStreamRowBytes. The outputs of the training passes (a batch's
// activations or gradients, megabytes) are read next by another layer; written through the
// cache, each line was first read from memory (write-allocate).
constexpr size_t kMinStreamRowBytes = 2048;
template <class D>
HWY_INLINE bool StreamRow(D d, const float* p, size_t s) {
  const size_t lanes = hn::Lanes(d);
  return s * sizeof(float) >= kMinStreamRowBytes && s % lanes == 0 &&
         reinterpret_cast<uintptr_t>(p) % (lanes * sizeof(float)) == 0;
}

// Prefetches an output row of s floats at p for writing, unless it will be streamed (StreamRow:
// then the prefetch would bring in the very lines the streaming stores avoid reading).
HWY_INLINE void PrefetchOutputRow(const float* p, size_t s) {
  if (!StreamRow(hn::ScalableTag<float>(), p, s)) PrefetchRow<true>(p, s * sizeof(float));
}

// Returns sum over (i, j) of (a[i, ch, j] - ca) * (b[i, ch, j] - cb) for one channel of the
// s > 1 layout; with kProduct false, returns sum of a[i, ch, j] (b, ca, cb unused).
template <bool kProduct>
HWY_INLINE float ChannelReduceRows(const float* HWY_RESTRICT a, float ca,
                                   const float* HWY_RESTRICT b, float cb, size_t n, size_t c,
                                   size_t s, size_t ch) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const hn::CappedTag<float, 1> d1;
  const auto vca = hn::Set(d, ca), vcb = hn::Set(d, cb);
  const auto sca = hn::Set(d1, ca), scb = hn::Set(d1, cb);
  // Two accumulators hide the add latency; both lanes' orders are fixed by (n, s) only.
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  auto tail = hn::Zero(d1);
  for (size_t i = 0; i < n; ++i) {
    const size_t row = (i * c + ch) * s;
    if (i + kRowsAhead < n) {
      const size_t ahead = ((i + kRowsAhead) * c + ch) * s;
      PrefetchRow(a + ahead, s * sizeof(float));
      if (kProduct && b != a) PrefetchRow(b + ahead, s * sizeof(float));
    }
    size_t j = 0;
    for (; j + 2 * lanes <= s; j += 2 * lanes) {
      if (kProduct) {
        acc0 = hn::MulAdd(hn::Sub(hn::LoadU(d, a + row + j), vca),
                          hn::Sub(hn::LoadU(d, b + row + j), vcb), acc0);
        acc1 = hn::MulAdd(hn::Sub(hn::LoadU(d, a + row + j + lanes), vca),
                          hn::Sub(hn::LoadU(d, b + row + j + lanes), vcb), acc1);
      } else {
        acc0 = hn::Add(acc0, hn::LoadU(d, a + row + j));
        acc1 = hn::Add(acc1, hn::LoadU(d, a + row + j + lanes));
      }
    }
    for (; j + lanes <= s; j += lanes) {
      if (kProduct) {
        acc0 = hn::MulAdd(hn::Sub(hn::LoadU(d, a + row + j), vca),
                          hn::Sub(hn::LoadU(d, b + row + j), vcb), acc0);
      } else {
        acc0 = hn::Add(acc0, hn::LoadU(d, a + row + j));
      }
    }
    for (; j < s; ++j) {
      if (kProduct) {
        tail = hn::MulAdd(hn::Sub(hn::LoadU(d1, a + row + j), sca),
                          hn::Sub(hn::LoadU(d1, b + row + j), scb), tail);
      } else {
        tail = hn::Add(tail, hn::LoadU(d1, a + row + j));
      }
    }
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1))) + hn::GetLane(tail);
}

// Overwrites out[c0, c1) with the per-channel reduction (see ChannelReduceRows) in either
// layout. ca / cb may be null (0).
template <bool kProduct>
HWY_INLINE void ChannelReduce(const float* HWY_RESTRICT a, const float* HWY_RESTRICT ca,
                              const float* HWY_RESTRICT b, const float* HWY_RESTRICT cb, size_t n,
                              size_t c, size_t s, size_t c0, size_t c1, float* HWY_RESTRICT out) {
  if (s != 1) {
    for (size_t ch = c0; ch < c1; ++ch) {
      out[ch] =
          ChannelReduceRows<kProduct>(a, ca ? ca[ch] : 0.0f, b, cb ? cb[ch] : 0.0f, n, c, s, ch);
    }
    return;
  }
  // s == 1: accumulate sample rows into out, vectors across channels.
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const hn::CappedTag<float, 1> d1;
  size_t ch = c0;
  for (; ch + lanes <= c1; ch += lanes) {
    const auto vca = ca ? hn::LoadU(d, ca + ch) : hn::Zero(d);
    const auto vcb = cb ? hn::LoadU(d, cb + ch) : hn::Zero(d);
    auto acc = hn::Zero(d);
    for (size_t i = 0; i < n; ++i) {
      if (kProduct) {
        acc = hn::MulAdd(hn::Sub(hn::LoadU(d, a + i * c + ch), vca),
                         hn::Sub(hn::LoadU(d, b + i * c + ch), vcb), acc);
      } else {
        acc = hn::Add(acc, hn::LoadU(d, a + i * c + ch));
      }
    }
    hn::StoreU(acc, d, out + ch);
  }
  for (; ch < c1; ++ch) {
    const auto vca = hn::Set(d1, ca ? ca[ch] : 0.0f);
    const auto vcb = hn::Set(d1, cb ? cb[ch] : 0.0f);
    auto acc = hn::Zero(d1);
    for (size_t i = 0; i < n; ++i) {
      if (kProduct) {
        acc = hn::MulAdd(hn::Sub(hn::LoadU(d1, a + i * c + ch), vca),
                         hn::Sub(hn::LoadU(d1, b + i * c + ch), vcb), acc);
      } else {
        acc = hn::Add(acc, hn::LoadU(d1, a + i * c + ch));
      }
    }
    hn::StoreU(acc, d1, out + ch);
  }
}

// g = dy (kAct == kNone), or the gradient through the activation kAct whose output is y: dy
// where y > 0 (ReLU) or 0 < y < 6 (ReLU6), 0 elsewhere (the derivative at the kinks is 0, as
// PyTorch's; for ReLU6 the test on y equals hardtanh_backward's 0 < v < 6 on its input v, NaN
// included). y may be null when kAct == kNone (it is never offset then).
template <BatchNormActivation kAct, class D, class V>
HWY_INLINE V MaskedGradOf(D d, V dy, V vy) {
  if (kAct == BatchNormActivation::kNone) return dy;
  if (kAct == BatchNormActivation::kRelu) return hn::IfThenElseZero(hn::Gt(vy, hn::Zero(d)), dy);
  return ClampBackwardVec(d, vy, hn::Zero(d), hn::Set(d, 6.0f), dy);
}
template <BatchNormActivation kAct, class D, class V>
HWY_INLINE V MaskedGrad(D d, V dy, const float* HWY_RESTRICT y, size_t offset) {
  if (kAct == BatchNormActivation::kNone) return dy;
  return MaskedGradOf<kAct>(d, dy, hn::LoadU(d, y + offset));
}

// Where a row's mask is taken (MaskedGradOf's vy at elements [j, j + Lanes(d)), given the
// row's x there): at the activation's output y_row (MaskAtOutput; null with kNone), or at its
// input recomputed from x as x * scale + shift with AffineVec's MulAdd (MaskAtInput), which is
// the same mask (see MaskedGrad) without reading the output.
struct MaskAtOutput {
  const float* y_row;
  template <class D, class V>
  HWY_INLINE V At(D d, size_t j, V /*x*/) const {
    return hn::LoadU(d, y_row + j);
  }
};
struct MaskAtInput {
  float scale, shift;
  template <class D, class V>
  HWY_INLINE V At(D d, size_t /*j*/, V x) const {
    return hn::MulAdd(hn::Set(d, scale), x, hn::Set(d, shift));
  }
};

// dy masked by kAct at the elements [j, j + Lanes(d)) of a row whose x there is `x`.
template <BatchNormActivation kAct, class D, class V, class Mask>
HWY_INLINE V MaskedGradAt(D d, V dy, const Mask& mask, size_t j, V x) {
  if constexpr (kAct == BatchNormActivation::kNone) {
    return dy;
  } else {
    return MaskedGradOf<kAct>(d, dy, mask.At(d, j, x));
  }
}

// The sums of ChannelBackwardSums for one channel of the s > 1 layout, row by row: Row adds the
// row's g (dy_row masked by kAct) and g * (x - mean); Finish writes the two sums.
// Every row goes through the same accumulators in the same order, wherever the row comes from,
// so a caller that builds g rows in scratch gets the sums bit for bit.
template <class D>
struct BackwardSumsAcc {
  using V = hn::Vec<D>;
  using D1 = hn::CappedTag<float, 1>;
  using V1 = hn::Vec<D1>;
  BackwardSumsAcc(D d, float mean)
      : vm(hn::Set(d, mean)),
        sm(hn::Set(D1(), mean)),
        s0(hn::Zero(d)),
        s1(hn::Zero(d)),
        p0(hn::Zero(d)),
        p1(hn::Zero(d)),
        st(hn::Zero(D1())),
        pt(hn::Zero(D1())) {}

  // Adds the row's g (MaskedGradAt<kAct> of dy_row, masked where `mask` says) and
  // g * (x - mean).
  template <BatchNormActivation kAct, class Mask>
  HWY_INLINE void Row(const float* HWY_RESTRICT dy_row, const float* HWY_RESTRICT x_row,
                      size_t s, const Mask& mask) {
    const D d;
    const D1 d1;
    const size_t lanes = hn::Lanes(d);
    size_t j = 0;
    for (; j + 2 * lanes <= s; j += 2 * lanes) {
      const auto x0 = hn::LoadU(d, x_row + j), x1 = hn::LoadU(d, x_row + j + lanes);
      const auto g0 = MaskedGradAt<kAct>(d, hn::LoadU(d, dy_row + j), mask, j, x0);
      const auto g1 = MaskedGradAt<kAct>(d, hn::LoadU(d, dy_row + j + lanes), mask, j + lanes, x1);
      s0 = hn::Add(s0, g0);
      s1 = hn::Add(s1, g1);
      p0 = hn::MulAdd(g0, hn::Sub(x0, vm), p0);
      p1 = hn::MulAdd(g1, hn::Sub(x1, vm), p1);
    }
    for (; j + lanes <= s; j += lanes) {
      const auto x0 = hn::LoadU(d, x_row + j);
      const auto g0 = MaskedGradAt<kAct>(d, hn::LoadU(d, dy_row + j), mask, j, x0);
      s0 = hn::Add(s0, g0);
      p0 = hn::MulAdd(g0, hn::Sub(x0, vm), p0);
    }
    for (; j < s; ++j) {
      const auto x0 = hn::LoadU(d1, x_row + j);
      const auto g = MaskedGradAt<kAct>(d1, hn::LoadU(d1, dy_row + j), mask, j, x0);
      st = hn::Add(st, g);
      pt = hn::MulAdd(g, hn::Sub(x0, sm), pt);
    }
  }

  HWY_INLINE void Finish(float* sum_g, float* sum_gxc) const {
    const D d;
    *sum_g = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1))) + hn::GetLane(st);
    *sum_gxc = hn::GetLane(hn::SumOfLanes(d, hn::Add(p0, p1))) + hn::GetLane(pt);
  }

  V vm;
  V1 sm;
  V s0, s1, p0, p1;
  V1 st, pt;
};

// Overwrites sum_g[c0, c1) and sum_gxc[c0, c1) with the sums of g and of g * (x - mean) per
// channel (g from MaskedGrad<kAct>), in one pass. The two sums are accumulated exactly as
// ChannelReduce<false>(g) and ChannelReduce<true>(g, null, x, mean) accumulate them, so the
// results are bit-identical to those two passes.
template <BatchNormActivation kAct>
HWY_INLINE void ChannelBackwardSums(const float* HWY_RESTRICT dy, const float* HWY_RESTRICT y,
                                    const float* HWY_RESTRICT x, const float* HWY_RESTRICT mean,
                                    size_t n, size_t c, size_t s, size_t c0, size_t c1,
                                    float* HWY_RESTRICT sum_g, float* HWY_RESTRICT sum_gxc) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const hn::CappedTag<float, 1> d1;
  if (s != 1) {
    for (size_t ch = c0; ch < c1; ++ch) {
      BackwardSumsAcc<decltype(d)> acc(d, mean[ch]);
      for (size_t i = 0; i < n; ++i) {
        const size_t row = (i * c + ch) * s;
        if (i + kRowsAhead < n) {
          const size_t ahead = ((i + kRowsAhead) * c + ch) * s;
          PrefetchRow(dy + ahead, s * sizeof(float));
          PrefetchRow(x + ahead, s * sizeof(float));
          if (kAct != BatchNormActivation::kNone) PrefetchRow(y + ahead, s * sizeof(float));
        }
        const float* y_row = kAct == BatchNormActivation::kNone ? nullptr : y + row;
        acc.template Row<kAct>(dy + row, x + row, s, MaskAtOutput{y_row});
      }
      acc.Finish(&sum_g[ch], &sum_gxc[ch]);
    }
    return;
  }
  size_t ch = c0;
  for (; ch + lanes <= c1; ch += lanes) {
    const auto vm = hn::LoadU(d, mean + ch);
    auto acc_s = hn::Zero(d), acc_p = hn::Zero(d);
    for (size_t i = 0; i < n; ++i) {
      const auto g = MaskedGrad<kAct>(d, hn::LoadU(d, dy + i * c + ch), y, i * c + ch);
      acc_s = hn::Add(acc_s, g);
      acc_p = hn::MulAdd(g, hn::Sub(hn::LoadU(d, x + i * c + ch), vm), acc_p);
    }
    hn::StoreU(acc_s, d, sum_g + ch);
    hn::StoreU(acc_p, d, sum_gxc + ch);
  }
  for (; ch < c1; ++ch) {
    const auto vm = hn::Set(d1, mean[ch]);
    auto acc_s = hn::Zero(d1), acc_p = hn::Zero(d1);
    for (size_t i = 0; i < n; ++i) {
      const auto g = MaskedGrad<kAct>(d1, hn::LoadU(d1, dy + i * c + ch), y, i * c + ch);
      acc_s = hn::Add(acc_s, g);
      acc_p = hn::MulAdd(g, hn::Sub(hn::LoadU(d1, x + i * c + ch), vm), acc_p);
    }
    hn::StoreU(acc_s, d1, sum_g + ch);
    hn::StoreU(acc_p, d1, sum_gxc + ch);
  }
}

// out = a * u + b * v + d per lane (kTwo), or a * u + d (v, b unused).
// kAct: then act(out) (the activation after a batch norm, bit-identical to a separate layer:
// ReLU's max(out, 0), ReLU6's ClampVec).
template <bool kTwo, BatchNormActivation kAct = BatchNormActivation::kNone, class D, class V>
HWY_INLINE V AffineVec(D d, V u, V a, V v, V b, V dd) {
  if (kTwo) return hn::MulAdd(a, u, hn::MulAdd(b, v, dd));
  const V out = hn::MulAdd(a, u, dd);
  if (kAct == BatchNormActivation::kRelu) return hn::Max(out, hn::Zero(d));
  if (kAct == BatchNormActivation::kRelu6) return ClampVec(d, out, hn::Zero(d), hn::Set(d, 6.0f));
  return out;
}

// One row of ChannelAffineRange's s > 1 layout: out_row[j] = a * u_row[j] + b * v_row[j] + d
// (kTwo) or a * u_row[j] + d, with the same kAct option; kMask (with kTwo): u is first masked by
// kMask where `mask` says (MaskAtOutput: the activation's output; MaskAtInput: recomputed from
// v = x). v_row may be null when unused. Rows that StreamRow accepts are written with streaming
// stores.
template <bool kTwo, BatchNormActivation kAct = BatchNormActivation::kNone,
          BatchNormActivation kMask = BatchNormActivation::kNone, class Mask>
HWY_INLINE void AffineRow(const float* u_row, float a, const float* v_row, float b, float dv,
                          size_t s, float* out_row, const Mask& mask) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const hn::CappedTag<float, 1> d1;
  const auto va = hn::Set(d, a), vd = hn::Set(d, dv);
  const auto vb = hn::Set(d, b);
  const bool stream = StreamRow(d, out_row, s);
  size_t j = 0;
  for (; j + lanes <= s; j += lanes) {
    const auto vv = kTwo ? hn::LoadU(d, v_row + j) : hn::Zero(d);
    const auto vu = MaskedGradAt<kMask>(d, hn::LoadU(d, u_row + j), mask, j, vv);
    const auto out = AffineVec<kTwo, kAct>(d, vu, va, vv, vb, vd);
    if (stream) {
      hn::Stream(out, d, out_row + j);
    } else {
      hn::StoreU(out, d, out_row + j);
    }
  }
  const auto sa = hn::Set(d1, a), sd = hn::Set(d1, dv);
  const auto sb = hn::Set(d1, b);
  for (; j < s; ++j) {
    const auto sv = kTwo ? hn::LoadU(d1, v_row + j) : hn::Zero(d1);
    const auto su = MaskedGradAt<kMask>(d1, hn::LoadU(d1, u_row + j), mask, j, sv);
    hn::StoreU(AffineVec<kTwo, kAct>(d1, su, sa, sv, sb, sd), d1, out_row + j);
  }
}

// Writes out[i, ch, j] = a[ch] * u + b[ch] * v + d[ch] (kTwo) or a[ch] * u + d[ch] for channels
// [c0, c1) in either layout. b / v are unused when !kTwo. kAct (with !kTwo): act(out).
// kMask (with kTwo): u is first replaced by MaskedGrad<kMask>(u, mask).
template <bool kTwo, BatchNormActivation kAct = BatchNormActivation::kNone,
          BatchNormActivation kMask = BatchNormActivation::kNone>
HWY_INLINE void ChannelAffineRange(const float* u, const float* HWY_RESTRICT a, const float* v,
                                   const float* HWY_RESTRICT b, const float* HWY_RESTRICT dv,
                                   size_t n, size_t c, size_t s, size_t c0, size_t c1, float* out,
                                   const float* mask = nullptr) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const hn::CappedTag<float, 1> d1;
  if (s != 1) {
    for (size_t i = 0; i < n; ++i) {
      for (size_t ch = c0; ch < c1; ++ch) {
        const size_t row = (i * c + ch) * s;
        if (i + kRowsAhead < n) {
          const size_t ahead = ((i + kRowsAhead) * c + ch) * s;
          PrefetchRow(u + ahead, s * sizeof(float));
          if (kTwo) PrefetchRow(v + ahead, s * sizeof(float));
          if (kMask != BatchNormActivation::kNone) PrefetchRow(mask + ahead, s * sizeof(float));
          PrefetchOutputRow(out + ahead, s);
        }
        AffineRow<kTwo, kAct, kMask>(
            u + row, a[ch], kTwo ? v + row : nullptr, kTwo ? b[ch] : 0.0f, dv[ch], s, out + row,
            MaskAtOutput{kMask == BatchNormActivation::kNone ? nullptr : mask + row});
      }
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t row = i * c;
    size_t ch = c0;
    for (; ch + lanes <= c1; ch += lanes) {
      const auto vv = kTwo ? hn::LoadU(d, v + row + ch) : hn::Zero(d);
      const auto vb = kTwo ? hn::LoadU(d, b + ch) : hn::Zero(d);
      const auto vu = MaskedGrad<kMask>(d, hn::LoadU(d, u + row + ch), mask, row + ch);
      hn::StoreU(AffineVec<kTwo, kAct>(d, vu, hn::LoadU(d, a + ch), vv, vb, hn::LoadU(d, dv + ch)),
                 d, out + row + ch);
    }
    for (; ch < c1; ++ch) {
      const auto sv = kTwo ? hn::LoadU(d1, v + row + ch) : hn::Zero(d1);
      const auto sb = kTwo ? hn::LoadU(d1, b + ch) : hn::Zero(d1);
      const auto su = MaskedGrad<kMask>(d1, hn::LoadU(d1, u + row + ch), mask, row + ch);
      hn::StoreU(
          AffineVec<kTwo, kAct>(d1, su, hn::LoadU(d1, a + ch), sv, sb, hn::LoadU(d1, dv + ch)), d1,
          out + row + ch);
    }
  }
}

// Writes y[i, ch, j] = kAct(x[i, ch, j] * scale + shift) for one channel of the s > 1 layout,
// element for element as ChannelAffineRange<false, kAct>.
template <BatchNormActivation kAct>
HWY_INLINE void ChannelAffineOne(const float* x, float scale, float shift, size_t n, size_t c,
                                 size_t s, size_t ch, float* y) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const hn::CappedTag<float, 1> d1;
  const auto va = hn::Set(d, scale), vd = hn::Set(d, shift), zero = hn::Zero(d);
  const auto sa = hn::Set(d1, scale), sd = hn::Set(d1, shift), zero1 = hn::Zero(d1);
  for (size_t i = 0; i < n; ++i) {
    const size_t row = (i * c + ch) * s;
    if (i + kRowsAhead < n) {
      const size_t ahead = ((i + kRowsAhead) * c + ch) * s;
      PrefetchRow(x + ahead, s * sizeof(float));
      PrefetchOutputRow(y + ahead, s);
    }
    const bool stream = StreamRow(d, y + row, s);
    size_t j = 0;
    for (; j + lanes <= s; j += lanes) {
      const auto out = AffineVec<false, kAct>(d, hn::LoadU(d, x + row + j), va, zero, zero, vd);
      if (stream) {
        hn::Stream(out, d, y + row + j);
      } else {
        hn::StoreU(out, d, y + row + j);
      }
    }
    for (; j < s; ++j) {
      hn::StoreU(AffineVec<false, kAct>(d1, hn::LoadU(d1, x + row + j), sa, zero1, zero1, sd), d1,
                 y + row + j);
    }
  }
}

// The 2x2 stride-2 max pooling (no padding) of an in_h x in_w plane, as Pool2d runs it.
HWY_INLINE Pool2dShape MaxPool2x2Shape(size_t in_h, size_t in_w) {
  Pool2dShape ps;
  ps.in_h = in_h;
  ps.in_w = in_w;
  return ps;  // batch 1, channel 1, kernel 2, stride 2, pad 0
}

// Writes pooled[i, ch] and argmax[i, ch] (n, c, h / 2, w / 2) = the 2x2 stride-2 max pooling of
// kAct(x[i, ch] * scale + shift) for one channel of (n, c, h, w) data: the pooling kernel's own
// row function (PoolRow2x2Stride2) loads x and maps every loaded vector with AffineVec's
// arithmetic before it compares, so pooled and argmax are those of the unfused passes bit for
// bit, and the activated plane is never stored (storing it and loading it back with the
// pooling's deinterleaving loads stalled on store forwarding: 3x slower). x_end is the end of x.
// Requires: h, w >= 2.
template <BatchNormActivation kAct>
HWY_INLINE void AffineActMaxPoolChannel(const float* x, const float* x_end, float scale,
                                        float shift, size_t n, size_t c, size_t h, size_t w,
                                        size_t ch, float* pooled, int32_t* argmax) {
  const hn::ScalableTag<float> d;
  const Pool2dShape ps = MaxPool2x2Shape(h, w);
  const size_t s = h * w, ow_n = ps.out_w(), p = ps.out_h() * ow_n;
  const auto va = hn::Set(d, scale), vd = hn::Set(d, shift), zero = hn::Zero(d);
  const auto pre = [&](hn::Vec<decltype(d)> v) {
    return AffineVec<false, kAct>(d, v, va, zero, zero, vd);
  };
  for (size_t i = 0; i < n; ++i) {
    const size_t o = (i * c + ch) * p;
    for (size_t oh = 0; oh < ps.out_h(); ++oh) {
      PoolRow2x2Stride2<true>(ps, x + (i * c + ch) * s, x_end, oh, pooled + o + oh * ow_n,
                              argmax + o + oh * ow_n, pre);
    }
  }
}

// Floats past the end of the last plane that UnpoolMaskedPlane may write (zeros).
HWY_INLINE size_t UnpoolPlanePadding() { return 2 * hn::Lanes(hn::ScalableTag<float>()); }

// Writes into `plane` (h * w floats) the gradient at one plane of the activation's output from
// the pooled gradient dy (h / 2 * w / 2 floats): 0 + MaskedGrad<kAct>(dy[k], pooled[k]) at
// argmax[k], 0 elsewhere, which is MaxPool2dBackward's scatter masked as ChannelBackwardSums
// masks it (the activation's output at argmax[k] is pooled[k]; the windows do not overlap, so
// each position receives at most one value, and g + 0.0f is 0 + g, -0 included). Vectors of N
// windows: each of the four positions of a window takes g where argmax names it, and the two
// input rows are stored interleaved; a row's last vector may write zeros up to 2N floats past
// it, into the next rows (written afterwards) or past the plane (the caller's next plane,
// written afterwards, or UnpoolPlanePadding() floats of scratch). dy, pooled and argmax hold
// `avail` elements from the plane's start on (vector loads stay within them).
template <BatchNormActivation kAct>
HWY_INLINE void UnpoolMaskedPlane(const float* HWY_RESTRICT dy, const float* HWY_RESTRICT pooled,
                                  const int32_t* HWY_RESTRICT argmax, size_t avail, size_t h,
                                  size_t w, float* HWY_RESTRICT plane) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d), oh_n = h / 2, ow_n = w / 2;
  // Odd sides leave a row or column that no window covers.
  if (h % 2 != 0 || w % 2 != 0) std::fill(plane, plane + h * w, 0.0f);
  const auto lane2 = hn::Mul(hn::Iota(di, 0), hn::Set(di, 2));
  const auto one = hn::Set(di, 1), row = hn::Set(di, static_cast<int32_t>(w));
  const size_t vectors = (ow_n + N - 1) / N;
  for (size_t oh = 0; oh < oh_n; ++oh) {
    // The row's vectors last to first: the last one's surplus lands in the next input row,
    // before that row's first vector (which covers it) is stored.
    for (size_t v = vectors; v-- > 0;) {
      const size_t ow = v * N, cnt = std::min(N, ow_n - ow), k = oh * ow_n + ow;
      hn::Vec<decltype(d)> vdy, vp;
      hn::Vec<decltype(di)> idx;
      if (k + N <= avail) {
        vdy = hn::LoadU(d, dy + k);
        vp = hn::LoadU(d, pooled + k);
        idx = hn::LoadU(di, argmax + k);
      } else {  // the last vectors of the arrays
        HWY_ALIGN float bdy[hn::MaxLanes(d)] = {}, bp[hn::MaxLanes(d)] = {};
        HWY_ALIGN int32_t bi[hn::MaxLanes(d)] = {};
        std::copy(dy + k, dy + k + cnt, bdy);
        std::copy(pooled + k, pooled + k + cnt, bp);
        std::copy(argmax + k, argmax + k + cnt, bi);
        vdy = hn::Load(d, bdy);
        vp = hn::Load(d, bp);
        idx = hn::Load(di, bi);
      }
      // Lanes past cnt (the next row's windows) take 0.
      const auto g = hn::IfThenElseZero(
          hn::FirstN(d, cnt), hn::Add(MaskedGradOf<kAct>(d, vdy, vp), hn::Zero(d)));
      const auto i00 = hn::Add(hn::Set(di, static_cast<int32_t>(2 * oh * w + 2 * ow)), lane2);
      const auto i10 = hn::Add(i00, row);
      const auto at = [&](hn::Vec<decltype(di)> pos) {
        return hn::IfThenElseZero(hn::RebindMask(d, hn::Eq(idx, pos)), g);
      };
      hn::StoreInterleaved2(at(i00), at(hn::Add(i00, one)), d, plane + 2 * oh * w + 2 * ow);
      hn::StoreInterleaved2(at(i10), at(hn::Add(i10, one)), d, plane + (2 * oh + 1) * w + 2 * ow);
    }
  }
}

// The batch-norm training backward of one channel behind AffineActMaxPoolChannel: dy, pooled and
// argmax are (n, c, h / 2, w / 2). The channel's gradient at the activation's output is built
// once in `planes` (n * h * w + UnpoolPlanePadding() floats, sized for L2 like
// BatchNormTrainForward's channel) with UnpoolMaskedPlane, then read by the two passes: the
// sums (BackwardSumsAcc), coefs.Coefs, then
// dx = a * g + b * x + d (AffineRow), the arithmetic of ChannelBackwardSums and
// ChannelAffineRange on the unfused full-size gradient.
template <BatchNormActivation kAct>
HWY_INLINE void MaxPoolBackwardChannel(const float* dy, const float* pooled, const int32_t* argmax,
                                       const float* x, const float* mean, const float* a,
                                       const float* b, const float* dv, size_t n, size_t c,
                                       size_t h, size_t w, size_t ch,
                                       const BatchNormBackwardCoefs& coefs, float* sum_g,
                                       float* sum_gxc, float* planes, float* dx) {
  const hn::ScalableTag<float> d;
  const Pool2dShape ps = MaxPool2x2Shape(h, w);
  const size_t s = h * w, p = ps.out_h() * ps.out_w();
  // All planes first: vector loads right after the scalar stores of the same plane would wait
  // for the stores to retire (no store forwarding from several stores to one load).
  for (size_t i = 0; i < n; ++i) {
    const size_t o = (i * c + ch) * p;
    if (i + kRowsAhead < n) {
      const size_t ahead = ((i + kRowsAhead) * c + ch) * p;
      PrefetchRow(dy + ahead, p * sizeof(float));
      PrefetchRow(pooled + ahead, p * sizeof(float));
      PrefetchRow(argmax + ahead, p * sizeof(int32_t));
    }
    UnpoolMaskedPlane<kAct>(dy + o, pooled + o, argmax + o, (n * c) * p - o, h, w,
                            planes + i * s);
  }
  BackwardSumsAcc<decltype(d)> acc(d, mean[ch]);
  for (size_t i = 0; i < n; ++i) {
    if (i + kRowsAhead < n) PrefetchRow(x + ((i + kRowsAhead) * c + ch) * s, s * sizeof(float));
    acc.template Row<BatchNormActivation::kNone>(planes + i * s, x + (i * c + ch) * s, s,
                                                 MaskAtOutput{nullptr});
  }
  acc.Finish(&sum_g[ch], &sum_gxc[ch]);
  coefs.Coefs(ch, sum_g[ch], sum_gxc[ch]);
  for (size_t i = 0; i < n; ++i) {
    const size_t row = (i * c + ch) * s;
    if (i + kRowsAhead < n) PrefetchOutputRow(dx + row + kRowsAhead * c * s, s);
    AffineRow<true>(planes + i * s, a[ch], x + row, b[ch], dv[ch], s, dx + row,
                    MaskAtOutput{nullptr});
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_BATCH_NORM_KERNELS_TOGGLE
