// Per-target depthwise convolution (groups == in_channels == out_channels): each channel plane
// is convolved with its own R x S taps, vectorized along the output pixels of a zero-padded
// copy of the plane. Forward: the stride-phase-split plane (conv_common-inl.h PhasedLayout) or
// row kernels (column stride 2). Backward: ConvBackwardDepthwise computes dx and dW from one
// copy of each x and dy plane (stride 1 on a virtual grid, column stride 2 on the row
// kernels), with the phased layout as the fallback for other shapes. The GEMM paths would
// fill one row of their kGemmMR-row register tile per group.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV_DEPTHWISE_INL_H_
#define SIMDNET_LAYERS_CONV_DEPTHWISE_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "layers/conv_plan.h"

#endif  // SIMDNET_LAYERS_CONV_DEPTHWISE_INL_H_

#if defined(SIMDNET_LAYERS_CONV_DEPTHWISE_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV_DEPTHWISE_TOGGLE
#undef SIMDNET_LAYERS_CONV_DEPTHWISE_TOGGLE
#else
#define SIMDNET_LAYERS_CONV_DEPTHWISE_TOGGLE
#endif

#include "hwy/highway.h"
#include "layers/conv_common-inl.h"
#include "tensor/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One vector of outputs: virtual pixel `src` of the padded plane (taps at src + off[tap]),
// written to `dst` in the output (or buffer) plane, `count` <= N lanes.
struct DepthwiseBlock {
  uint32_t src, dst, count;
};

// Returns the blocks of one plane: per output row, vectors of up to N outputs (kRow); or whole
// vectors over the virtual grid [0, nv) (kScatter: into a buffer of rows wq apart).
inline std::vector<DepthwiseBlock> DepthwiseBlocks(const Conv2dShape& s, size_t wq, size_t nv,
                                                   bool virtual_grid) {
  const size_t N = hn::Lanes(GemmD());
  const size_t oh = s.out_h(), ow = s.out_w();
  std::vector<DepthwiseBlock> blocks;
  if (virtual_grid) {
    for (size_t q = 0; q < nv; q += N) {
      blocks.push_back(
          {static_cast<uint32_t>(q), static_cast<uint32_t>(q), static_cast<uint32_t>(N)});
    }
    return blocks;
  }
  for (size_t r = 0; r < oh; ++r) {
    for (size_t j = 0; j < ow; j += N) {
      blocks.push_back({static_cast<uint32_t>(r * wq + j), static_cast<uint32_t>(r * ow + j),
                        static_cast<uint32_t>(std::min(N, ow - j))});
    }
  }
  return blocks;
}

// Runs fn(u0, u1) over ranges of the batch * channels planes of a depthwise shape (a few
// ranges per thread when the pass is worth parallelizing).
inline void RunDepthwisePlanes(const Conv2dShape& s, ThreadPool& pool,
                               const std::function<void(size_t, size_t)>& fn) {
  const size_t units = s.batch * s.in_channels;
  const bool parallel = detail::ConvParallel(s, pool);
  const size_t tasks = parallel ? std::min(units, 8 * pool.NumThreads()) : 1;
  detail::RunTasks(pool, parallel, tasks, [&](uint64_t task, size_t) {
    fn(units * task / tasks, units * (task + 1) / tasks);
  });
}

// Stores v (+ ReLU) to dst, its first `count` lanes only when count < N.
template <class D, class V = hn::Vec<D>>
HWY_INLINE void StoreDepthwise(D d, V v, bool relu, float* HWY_RESTRICT dst, size_t count) {
  if (relu) v = hn::Max(v, hn::Zero(d));
  if (count == hn::Lanes(d)) {
    hn::StoreU(v, d, dst);
  } else {
    hn::BlendedStore(v, hn::FirstN(d, count), d, dst);
  }
}

// Most taps whose partial sums stay in registers in the weight gradient.
constexpr size_t kDepthwiseMaxTaps = 9;

// ---------------------------------------------------------------------------------------------
// Row kernels (column stride 2, row stride 1 or 2, no dilation, up to kDepthwiseMaxTaps taps:
// MobileNet's 3x3 s2; written for column stride 1 too, which DepthwiseRowsApply leaves to the
// phased path).
// Each plane is copied into a zero-padded plane of rows L floats apart (borders zeroed once per
// task, only the interior rewritten per plane), and the three passes read it with plain loads
// (stride 1) or deinterleaving loads (stride 2: taps t and t + 1 are the even and odd lanes of
// one load). No phase split, no scalar tails: partial vectors are recomputed overlapping the
// previous one or go through a small buffer. Backward-data gathers per output column phase
// (padded column q = m * stride + b takes the taps t = b (mod stride) from dy column
// m - (t - b) / stride of a zero-margined dy copy), so it never read-modify-writes memory.

// Returns whether the row kernels handle s (the depthwise paths fall back to the phased ones).
// Measured on Zen 5 (bench/memory_bound_bench, MobileNetV2 shapes, batch 16, 2 threads), the
// row kernels run stride 2 1.4-3x faster in all three passes than the phased layout (whose
// stride-2 copy ends every row with scalar columns and whose backward-data adds into memory),
// while at stride 1 (a plain padded copy there) they were within noise or up to 1.3x slower.
inline bool DepthwiseRowsApply(const Conv2dShape& s) {
  return s.dilation_h == 1 && s.dilation_w == 1 && s.stride_w == 2 &&
         (s.stride_h == 1 || s.stride_h == 2) && s.kernel_h * s.kernel_w <= kDepthwiseMaxTaps;
}

// Buffer geometry of the row kernels for one shape and vector width.
struct DepthwiseRowGeom {
  explicit DepthwiseRowGeom(const Conv2dShape& s) : N(hn::Lanes(GemmD())) {
    oh = s.out_h();
    ow = s.out_w();
    hp = s.in_h + 2 * s.pad_h;
    wp = s.in_w + 2 * s.pad_w;
    nvec = detail::DivCeil(ow, N);
    // Vector j of an output row reads padded columns up to stride_w * (j + 1) * N + kernel_w.
    L = detail::RoundUp(std::max(wp, s.stride_w * nvec * N + s.kernel_w) + 2 * N, N);
    x_floats = (hp + 1) * L;
    mq = detail::DivCeil(wp, s.stride_w);
    mvec4 = detail::RoundUp(detail::DivCeil(mq, N), 4);
    pl = detail::RoundUp(s.kernel_w, N);
    ld = pl + detail::RoundUp(std::max(mvec4 * N, nvec * N), N) + N;
    dy_floats = oh * ld + N;
  }
  size_t N, oh, ow, hp, wp, nvec, L, x_floats, mq, mvec4, pl, ld, dy_floats;
};

// dst[0, n) = src[0, n): whole vectors, the last one overlapping the previous when n % N != 0
// (it rewrites equal values), scalar only when n < N. Reads nothing outside src[0, n).
HWY_INLINE void CopyRowExact(const float* HWY_RESTRICT src, size_t n, float* dst) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  if (n < N) {
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
    return;
  }
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  if (i < n) hn::StoreU(hn::LoadU(d, src + n - N), d, dst + n - N);
}

// Copies plane x (in_h x in_w) into the interior of the padded plane xpad (rows g.L apart),
// whose borders the caller zeroed.
inline void DepthwisePadPlane(const Conv2dShape& s, const DepthwiseRowGeom& g,
                              const float* HWY_RESTRICT x, float* HWY_RESTRICT xpad) {
  for (size_t ih = 0; ih < s.in_h; ++ih) {
    CopyRowExact(x + ih * s.in_w, s.in_w, xpad + (ih + s.pad_h) * g.L + s.pad_w);
  }
}

// Copies dy plane (oh x ow) into the zero-margined dy copy (rows g.ld apart, column 0 at g.pl).
inline void DepthwisePadDy(const DepthwiseRowGeom& g, const float* HWY_RESTRICT dy,
                           float* HWY_RESTRICT dypad) {
  for (size_t r = 0; r < g.oh; ++r) {
    CopyRowExact(dy + r * g.ow, g.ow, dypad + r * g.ld + g.pl);
  }
}

// Returns the tap sum of N outputs whose first tap (0, 0) is at xb in the padded plane (rows L
// apart), with tap vectors wv (kh x kw), starting from acc.
// kK (3, or 0: kh x kw at run time) lets the compiler unroll the taps of the common 3x3 kernel.
template <bool kStride2, size_t kK, class V>
HWY_INLINE V DepthwiseTapSum(GemmD d, const float* HWY_RESTRICT xb, size_t L, size_t kh_rt,
                             size_t kw_rt, const V* wv, V acc) {
  const size_t kh = kK != 0 ? kK : kh_rt, kw = kK != 0 ? kK : kw_rt;
  for (size_t r = 0; r < kh; ++r) {
    const float* HWY_RESTRICT row = xb + r * L;
    if (!kStride2) {
      for (size_t t = 0; t < kw; ++t) acc = hn::MulAdd(wv[r * kw + t], hn::LoadU(d, row + t), acc);
      continue;
    }
    for (size_t t = 0; t < kw; t += 2) {
      V even, odd;
      hn::LoadInterleaved2(d, row + t, even, odd);
      acc = hn::MulAdd(wv[r * kw + t], even, acc);
      if (t + 1 < kw) acc = hn::MulAdd(wv[r * kw + t + 1], odd, acc);
    }
  }
  return acc;
}

// One output vector of the forward: xpad offset, output offset within the plane, lanes kept.
struct DepthwiseRowBlock {
  uint32_t x, y, count;
};

// Returns the output vectors of a plane: per row, whole vectors, then (ow % N != 0) one
// overlapping the previous vector when ow >= N, or a partial one (count < N) when ow < N.
inline std::vector<DepthwiseRowBlock> DepthwiseRowBlocks(const Conv2dShape& s,
                                                         const DepthwiseRowGeom& g) {
  std::vector<DepthwiseRowBlock> blocks;
  const size_t N = g.N;
  for (size_t r = 0; r < g.oh; ++r) {
    const size_t xrow = r * s.stride_h * g.L;
    size_t j = 0;
    for (; j + N <= g.ow; j += N) {
      blocks.push_back({static_cast<uint32_t>(xrow + s.stride_w * j),
                        static_cast<uint32_t>(r * g.ow + j), static_cast<uint32_t>(N)});
    }
    if (j == g.ow) continue;
    if (g.ow >= N) {
      const size_t j0 = g.ow - N;
      blocks.push_back({static_cast<uint32_t>(xrow + s.stride_w * j0),
                        static_cast<uint32_t>(r * g.ow + j0), static_cast<uint32_t>(N)});
    } else {
      blocks.push_back({static_cast<uint32_t>(xrow), static_cast<uint32_t>(r * g.ow),
                        static_cast<uint32_t>(g.ow)});
    }
  }
  return blocks;
}

// Stores the first `count` lanes of v (+ ReLU) to dst; a partial vector goes through tmp so
// that nothing past dst[count) is touched.
HWY_INLINE void StoreDepthwiseRow(GemmD d, hn::Vec<GemmD> v, bool relu, float* dst, size_t count,
                                  float* HWY_RESTRICT tmp) {
  if (relu) v = hn::Max(v, hn::Zero(d));
  if (count == hn::Lanes(d)) {
    hn::StoreU(v, d, dst);
    return;
  }
  hn::StoreU(v, d, tmp);
  // count < Lanes(d); saying so lets the compiler see that tmp is not read past its end.
  const size_t n = std::min(count, hn::Lanes(d));
  for (size_t i = 0; i < n; ++i) dst[i] = tmp[i];
}

// Forward with the row kernels (see above); flip_taps as in ConvForwardDepthwise.
template <bool kStride2, size_t kK>
inline void DepthwiseRowsForward(const Conv2dShape& s, const float* x, const float* w,
                                 const float* bias, float* y, bool relu, bool flip_taps,
                                 ThreadPool& pool) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const DepthwiseRowGeom g(s);
  const size_t kh = s.kernel_h, kw = s.kernel_w, rs = kh * kw;
  const size_t in_plane = s.in_h * s.in_w, out_plane = g.oh * g.ow;
  const std::vector<DepthwiseRowBlock> blocks = DepthwiseRowBlocks(s, g);
  const size_t nb = blocks.size();
  RunDepthwisePlanes(s, pool, [&](size_t u0, size_t u1) {
    float* xpad = ConvScratch(ConvSlot::kPackB, g.x_floats);
    std::fill(xpad, xpad + g.x_floats, 0.0f);
    HWY_ALIGN float tmp[hn::MaxLanes(GemmD())];
    V wv[kDepthwiseMaxTaps];
    for (size_t u = u0; u < u1; ++u) {
      const size_t c = u % s.in_channels;
      for (size_t t = 0; t < rs; ++t) {
        wv[t] = hn::Set(d, w[c * rs + (flip_taps ? rs - 1 - t : t)]);
      }
      const V vb = hn::Set(d, bias != nullptr ? bias[c] : 0.0f);
      DepthwisePadPlane(s, g, x + u * in_plane, xpad);
      float* yu = y + u * out_plane;
      size_t b = 0;
      // Four independent vectors keep four FMA chains in flight.
      for (; b + 4 <= nb; b += 4) {
        const DepthwiseRowBlock* bl = &blocks[b];
        const V a0 = DepthwiseTapSum<kStride2, kK>(d, xpad + bl[0].x, g.L, kh, kw, wv, vb);
        const V a1 = DepthwiseTapSum<kStride2, kK>(d, xpad + bl[1].x, g.L, kh, kw, wv, vb);
        const V a2 = DepthwiseTapSum<kStride2, kK>(d, xpad + bl[2].x, g.L, kh, kw, wv, vb);
        const V a3 = DepthwiseTapSum<kStride2, kK>(d, xpad + bl[3].x, g.L, kh, kw, wv, vb);
        StoreDepthwiseRow(d, a0, relu, yu + bl[0].y, bl[0].count, tmp);
        StoreDepthwiseRow(d, a1, relu, yu + bl[1].y, bl[1].count, tmp);
        StoreDepthwiseRow(d, a2, relu, yu + bl[2].y, bl[2].count, tmp);
        StoreDepthwiseRow(d, a3, relu, yu + bl[3].y, bl[3].count, tmp);
      }
      for (; b < nb; ++b) {
        const V a = DepthwiseTapSum<kStride2, kK>(d, xpad + blocks[b].x, g.L, kh, kw, wv, vb);
        StoreDepthwiseRow(d, a, relu, yu + blocks[b].y, blocks[b].count, tmp);
      }
    }
  });
}

// Backward-data of one plane with the row kernels (see above): per padded dx row and column
// phase b, four vectors of phase columns at a time gather their taps from the rows of the dy
// copy `dypad`; `rows` is DepthwiseRowsScratch floats of staging.
inline size_t DepthwiseRowsScratch(const DepthwiseRowGeom& g, const Conv2dShape& s) {
  return (s.stride_w + 2) * g.mvec4 * g.N + 2 * g.N;
}
template <class V>
HWY_INLINE void DepthwiseRowsDataPlane(const Conv2dShape& s, const DepthwiseRowGeom& g,
                                       const float* HWY_RESTRICT dypad, const V* wv,
                                       float* HWY_RESTRICT rows, float* HWY_RESTRICT dxu) {
  const GemmD d;
  const size_t kh = s.kernel_h, kw = s.kernel_w, N = g.N;
  const size_t sh = s.stride_h, sw = s.stride_w;
  const size_t phase_floats = g.mvec4 * N;
  float* padded_row = rows + sw * phase_floats;
  for (size_t ih = 0; ih < s.in_h; ++ih) {
    const size_t qh = ih + s.pad_h;
    // dy rows feeding padded row qh: (qh - r) / sh for the taps r with a whole quotient.
    const float* dy_rows[kDepthwiseMaxTaps];
    size_t taps_r[kDepthwiseMaxTaps];
    size_t nr = 0;
    for (size_t r = 0; r < kh && r <= qh; ++r) {
      if ((qh - r) % sh != 0 || (qh - r) / sh >= g.oh) continue;
      dy_rows[nr] = dypad + (qh - r) / sh * g.ld + g.pl;
      taps_r[nr++] = r;
    }
    for (size_t b = 0; b < sw; ++b) {
      float* HWY_RESTRICT out = rows + b * phase_floats;
      size_t m = 0;
      for (; m + 3 * N < g.mq; m += 4 * N) {
        V a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
        for (size_t i = 0; i < nr; ++i) {
          const size_t r = taps_r[i];
          for (size_t t = b; t < kw; t += sw) {
            const V wt = wv[r * kw + t];
            const float* HWY_RESTRICT src = dy_rows[i] + m - (t - b) / sw;
            a0 = hn::MulAdd(wt, hn::LoadU(d, src), a0);
            a1 = hn::MulAdd(wt, hn::LoadU(d, src + N), a1);
            a2 = hn::MulAdd(wt, hn::LoadU(d, src + 2 * N), a2);
            a3 = hn::MulAdd(wt, hn::LoadU(d, src + 3 * N), a3);
          }
        }
        hn::StoreU(a0, d, out + m);
        hn::StoreU(a1, d, out + m + N);
        hn::StoreU(a2, d, out + m + 2 * N);
        hn::StoreU(a3, d, out + m + 3 * N);
      }
      for (; m < g.mq; m += N) {
        V a = hn::Zero(d);
        for (size_t i = 0; i < nr; ++i) {
          for (size_t t = b; t < kw; t += sw) {
            a = hn::MulAdd(wv[taps_r[i] * kw + t], hn::LoadU(d, dy_rows[i] + m - (t - b) / sw), a);
          }
        }
        hn::StoreU(a, d, out + m);
      }
    }
    const float* src_row = rows;  // sw == 1: the only phase is the padded row
    if (sw == 2) {
      for (size_t m = 0; m < g.mq; m += N) {
        hn::StoreInterleaved2(hn::LoadU(d, rows + m), hn::LoadU(d, rows + phase_floats + m), d,
                              padded_row + 2 * m);
      }
      src_row = padded_row;
    }
    CopyRowExact(src_row + s.pad_w, s.in_w, dxu + ih * s.in_w);
  }
}

// Weight gradient of one plane with the row kernels: one vector of dy (zero past the row's end
// in the dy copy) times the matching x vector of every tap, into kh * kw accumulators `acc`
// and the bias sum `bacc`.
template <bool kStride2, size_t kK, class V>
HWY_INLINE void DepthwiseRowsWeightsPlane(const Conv2dShape& s, const DepthwiseRowGeom& g,
                                          const float* HWY_RESTRICT xpad,
                                          const float* HWY_RESTRICT dypad, V* acc, V& bacc) {
  const GemmD d;
  const size_t kh = kK != 0 ? kK : s.kernel_h, kw = kK != 0 ? kK : s.kernel_w, N = g.N;
  for (size_t r0 = 0; r0 < g.oh; ++r0) {
    const float* HWY_RESTRICT dyr = dypad + r0 * g.ld + g.pl;
    const float* HWY_RESTRICT xr = xpad + r0 * s.stride_h * g.L;
    for (size_t j = 0; j < g.nvec * N; j += N) {
      const V v = hn::LoadU(d, dyr + j);
      bacc = hn::Add(bacc, v);
      const float* HWY_RESTRICT xb = xr + s.stride_w * j;
      for (size_t r = 0; r < kh; ++r) {
        const float* HWY_RESTRICT row = xb + r * g.L;
        if (!kStride2) {
          for (size_t t = 0; t < kw; ++t) {
            acc[r * kw + t] = hn::MulAdd(v, hn::LoadU(d, row + t), acc[r * kw + t]);
          }
          continue;
        }
        for (size_t t = 0; t < kw; t += 2) {
          V even, odd;
          hn::LoadInterleaved2(d, row + t, even, odd);
          acc[r * kw + t] = hn::MulAdd(v, even, acc[r * kw + t]);
          if (t + 1 < kw) acc[r * kw + t + 1] = hn::MulAdd(v, odd, acc[r * kw + t + 1]);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward pass, data and weights in one pass (ConvBackwardDepthwise): per channel plane, x and
// dy are copied once into zero-padded scratch planes, then dW and dbias accumulate from them
// and dx is written from the dy copy while both planes are still in L1/L2. x and dy are read
// from memory once and dx written once (the separate passes read dy twice and pad it twice).
// Either part may be skipped (dx null: weight gradient only; dw null: backward-data only)
// with bit-identical results for the part computed, so the separate passes run the same code.
//
// Stride 1 with padding within the kernel's reach: x padded by pad and dy padded by
// kernel - 1 - pad are laid out with one row pitch W, so that on the "virtual grid" (rows W
// apart, the floats past a row's end are zeros of the dy copy or discarded outputs) every tap
// is a constant offset: dW[r][t] = sum_q dyz[q + a] * xpad[q + r W + t] over the dy grid, and
// dx[v] = sum_(r,t) w[R-1-r][S-1-t] * dyz[v + r W + t] (the flipped forward) over the dx grid.
// Whole vectors run over the grid, so 7x7 and 14x14 planes fill the lanes (61 of 64 for 7x7
// on AVX-512, where one vector per row fills 7 of 16); dx rows of at least a vector are
// written in place (the last vector of a row overlapping the previous one).
// Column stride 2 (DepthwiseRowsApply): the row kernels' copies and loops, per plane.

// Returns whether ConvBackwardDepthwise handles s.
inline bool DepthwiseBackwardApplies(const Conv2dShape& s) {
  if (!IsDepthwise(s) || s.kernel_h * s.kernel_w > kDepthwiseMaxTaps) return false;
  if (DepthwiseRowsApply(s)) return true;
  return s.stride_h == 1 && s.stride_w == 1 && s.dilation_h == 1 && s.dilation_w == 1 &&
         s.pad_h < s.kernel_h && s.pad_w < s.kernel_w;
}

// Buffer geometry of the stride-1 backward (see above) for one shape and vector width.
struct DepthwiseS1Geom {
  explicit DepthwiseS1Geom(const Conv2dShape& s) : N(hn::Lanes(GemmD())) {
    kh = s.kernel_h;
    kw = s.kernel_w;
    oh = s.out_h();
    ow = s.out_w();
    ah = kh - 1 - s.pad_h;
    aw = kw - 1 - s.pad_w;
    // Wide enough for the padded x row (in_w + 2 pad_w) and the padded dy row (in_w + kw - 1).
    W = s.in_w + std::max(2 * s.pad_w, kw - 1);
    hp = s.in_h + 2 * s.pad_h;
    hz = oh + 2 * ah;
    // The grids' last vectors read up to a vector past hp (hz) rows: 2 N floats of zeros.
    x_floats = hp * W + 2 * N;
    dy_floats = hz * W + 2 * N;
    nq = detail::RoundUp((oh - 1) * W + ow, N);
    nv = detail::RoundUp((s.in_h - 1) * W + s.in_w, N);
    // dx on the grid (into a buffer, then rows copied out) when rows are narrower than a
    // vector or the grid saves more than a fifth of the lanes, as PlanDepthwiseLayout.
    const size_t row_lanes = s.in_h * detail::RoundUp(s.in_w, N);
    dx_grid = s.in_w < N || 5 * nv < 4 * row_lanes;
  }
  size_t N, kh, kw, oh, ow, ah, aw, W, hp, hz, x_floats, dy_floats, nq, nv;
  bool dx_grid;
};

// Fills `order` with the planes u = n * channels + c of [i0, i1) in the order they are run.
// Backward-data only (by_channel false): i = u, consecutive planes in memory. By channel: [i0,
// i1) = [batch * c0, batch * c1) and each block of up to kDepthwiseChannelBlock channels runs
// image by image (the block's planes of one image are contiguous, so the loads stream as in
// the forward instead of jumping between images every plane); each channel still sees its
// images in order, so its sums are those of a channel-by-channel loop, bit for bit.
constexpr size_t kDepthwiseChannelBlock = 16;
inline void DepthwisePlaneOrder(const Conv2dShape& s, bool by_channel, size_t i0, size_t i1,
                                std::vector<uint32_t>* order) {
  order->clear();
  if (!by_channel) {
    for (size_t i = i0; i < i1; ++i) order->push_back(static_cast<uint32_t>(i));
    return;
  }
  const size_t c0 = i0 / s.batch, c1 = i1 / s.batch;
  for (size_t cb = c0; cb < c1; cb += kDepthwiseChannelBlock) {
    const size_t ce = std::min(c1, cb + kDepthwiseChannelBlock);
    for (size_t n = 0; n < s.batch; ++n) {
      for (size_t c = cb; c < ce; ++c)
        order->push_back(static_cast<uint32_t>(n * s.in_channels + c));
    }
  }
}

// The weight-gradient accumulators of one backward task (planes [i0, i1) in channel order):
// rs tap vectors and a bias vector, kept in registers over a plane and parked in scratch
// between planes, at (c - c0) * (kDepthwiseMaxTaps + 1) vectors per channel. Each channel
// starts from zero at image 0 and is reduced into dw (and dbias) after its last image, so the
// sums do not depend on the thread count.
template <size_t kRs>
class DepthwiseWeightAcc {
 public:
  using V = hn::Vec<GemmD>;
  DepthwiseWeightAcc(const Conv2dShape& s, bool by_channel, size_t i0, size_t i1)
      : batch_(s.batch),
        rs_(kRs != 0 ? kRs : s.kernel_h * s.kernel_w),
        stride_((kDepthwiseMaxTaps + 1) * hn::Lanes(GemmD())),
        c0_(i0 / s.batch),
        buf_(by_channel ? ConvScratch(ConvSlot::kColumns, (i1 - i0) / s.batch * stride_)
                        : nullptr) {}
  // Sets acc and bacc to channel c's sums before image n.
  HWY_INLINE void Begin(size_t c, size_t n, V* acc, V& bacc) const {
    const GemmD d;
    if (n == 0) {
      for (size_t t = 0; t < kDepthwiseMaxTaps; ++t) acc[t] = hn::Zero(d);
      bacc = hn::Zero(d);
      return;
    }
    const float* HWY_RESTRICT buf = buf_ + (c - c0_) * stride_;
    const size_t rs = kRs != 0 ? kRs : rs_;  // a constant keeps acc in registers
    for (size_t t = 0; t < rs; ++t) acc[t] = hn::Load(d, buf + t * hn::Lanes(d));
    bacc = hn::Load(d, buf + kDepthwiseMaxTaps * hn::Lanes(d));
  }
  // Parks channel c's sums after image n, or adds them to dw (and dbias when non-null) after
  // the last image.
  HWY_INLINE void End(size_t c, size_t n, const V* acc, V bacc, float* dw, float* dbias) const {
    const GemmD d;
    const size_t rs = kRs != 0 ? kRs : rs_;
    if (n + 1 == batch_) {
      for (size_t t = 0; t < rs; ++t) dw[c * rs + t] += hn::GetLane(hn::SumOfLanes(d, acc[t]));
      if (dbias != nullptr) dbias[c] += hn::GetLane(hn::SumOfLanes(d, bacc));
      return;
    }
    float* HWY_RESTRICT buf = buf_ + (c - c0_) * stride_;
    for (size_t t = 0; t < rs; ++t) hn::Store(acc[t], d, buf + t * hn::Lanes(d));
    hn::Store(bacc, d, buf + kDepthwiseMaxTaps * hn::Lanes(d));
  }

 private:
  size_t batch_, rs_, stride_, c0_;
  float* buf_;
};

// Stride-1 backward over the planes [i0, i1) of the order of RunDepthwiseBackward.
template <size_t kK>
inline void DepthwiseBackwardS1Planes(const Conv2dShape& s, const DepthwiseS1Geom& g,
                                      bool by_channel, size_t i0, size_t i1, const float* x,
                                      const float* dy, const float* w, float* dx, float* dw,
                                      float* dbias) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t kh = kK != 0 ? kK : g.kh, kw = kK != 0 ? kK : g.kw, rs = kh * kw, N = g.N;
  const size_t W = g.W, channels = s.in_channels;
  const size_t in_plane = s.in_h * s.in_w, out_plane = g.oh * g.ow;
  float* xpad = dw != nullptr ? ConvScratch(ConvSlot::kPackB, g.x_floats) : nullptr;
  float* dyz = ConvScratch(ConvSlot::kPlanes, g.dy_floats);
  float* dxv = dx != nullptr && g.dx_grid ? ConvScratch(ConvSlot::kAcc, g.nv + N) : nullptr;
  if (xpad != nullptr) std::fill(xpad, xpad + g.x_floats, 0.0f);
  std::fill(dyz, dyz + g.dy_floats, 0.0f);
  // dx blocks: dyz offset of the first tap, dx (or grid buffer) offset; 4 at a time below.
  std::vector<DepthwiseRowBlock> blocks;
  if (dx != nullptr && g.dx_grid) {
    for (size_t v = 0; v < g.nv; v += N) {
      blocks.push_back({static_cast<uint32_t>(v), static_cast<uint32_t>(v), 0});
    }
  } else if (dx != nullptr) {
    for (size_t ih = 0; ih < s.in_h; ++ih) {
      for (size_t j = 0; j < s.in_w; j += N) {
        const size_t j0 = std::min(j, s.in_w - N);  // the last one overlaps
        blocks.push_back(
            {static_cast<uint32_t>(ih * W + j0), static_cast<uint32_t>(ih * s.in_w + j0), 0});
      }
    }
  }
  const size_t nb = blocks.size();
  V wf[kDepthwiseMaxTaps], acc[kDepthwiseMaxTaps];
  V bacc = hn::Zero(d);
  const DepthwiseWeightAcc<kK * kK> sums(s, by_channel, i0, i1);
  std::vector<uint32_t> order;
  DepthwisePlaneOrder(s, by_channel, i0, i1, &order);
  for (const uint32_t u : order) {
    const size_t c = u % channels, n = u / channels;
    if (dx != nullptr) {
      for (size_t t = 0; t < rs; ++t) wf[t] = hn::Set(d, w[c * rs + rs - 1 - t]);
    }
    if (dw != nullptr) sums.Begin(c, n, acc, bacc);
    const float* HWY_RESTRICT dyu = dy + u * out_plane;
    for (size_t r = 0; r < g.oh; ++r) {
      CopyRowExact(dyu + r * g.ow, g.ow, dyz + (r + g.ah) * W + g.aw);
    }
    if (dw != nullptr) {
      const float* HWY_RESTRICT xu = x + u * in_plane;
      for (size_t r = 0; r < s.in_h; ++r) {
        CopyRowExact(xu + r * s.in_w, s.in_w, xpad + (r + s.pad_h) * W + s.pad_w);
      }
      // Nine accumulators of one FMA each per dy vector: independent chains.
      const float* HWY_RESTRICT dz = dyz + g.ah * W + g.aw;
      for (size_t q = 0; q < g.nq; q += N) {
        const V v = hn::LoadU(d, dz + q);
        bacc = hn::Add(bacc, v);
        const float* HWY_RESTRICT xb = xpad + q;
        for (size_t r = 0; r < kh; ++r) {
          for (size_t t = 0; t < kw; ++t) {
            acc[r * kw + t] = hn::MulAdd(v, hn::LoadU(d, xb + r * W + t), acc[r * kw + t]);
          }
        }
      }
      sums.End(c, n, acc, bacc, dw, dbias);
    }
    if (dx != nullptr) {
      float* HWY_RESTRICT out = g.dx_grid ? dxv : dx + u * in_plane;
      const V z = hn::Zero(d);
      size_t b = 0;
      // Four independent vectors keep four FMA chains in flight.
      for (; b + 4 <= nb; b += 4) {
        const DepthwiseRowBlock* bl = &blocks[b];
        const V a0 = DepthwiseTapSum<false, kK>(d, dyz + bl[0].x, W, kh, kw, wf, z);
        const V a1 = DepthwiseTapSum<false, kK>(d, dyz + bl[1].x, W, kh, kw, wf, z);
        const V a2 = DepthwiseTapSum<false, kK>(d, dyz + bl[2].x, W, kh, kw, wf, z);
        const V a3 = DepthwiseTapSum<false, kK>(d, dyz + bl[3].x, W, kh, kw, wf, z);
        hn::StoreU(a0, d, out + bl[0].y);
        hn::StoreU(a1, d, out + bl[1].y);
        hn::StoreU(a2, d, out + bl[2].y);
        hn::StoreU(a3, d, out + bl[3].y);
      }
      for (; b < nb; ++b) {
        const V a = DepthwiseTapSum<false, kK>(d, dyz + blocks[b].x, W, kh, kw, wf, z);
        hn::StoreU(a, d, out + blocks[b].y);
      }
      if (g.dx_grid) {
        float* HWY_RESTRICT dxu = dx + u * in_plane;
        for (size_t r = 0; r < s.in_h; ++r) CopyRowPadded(dxv + r * W, s.in_w, dxu + r * s.in_w);
      }
    }
  }
}

// Column-stride-2 backward (the row kernels) over the planes [i0, i1) of the order of
// RunDepthwiseBackward.
template <size_t kK>
inline void DepthwiseBackwardRowsPlanes(const Conv2dShape& s, const DepthwiseRowGeom& g,
                                        bool by_channel, size_t i0, size_t i1, const float* x,
                                        const float* dy, const float* w, float* dx, float* dw,
                                        float* dbias) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  // A compile-time tap count keeps the accumulators in registers (constant indices).
  const size_t rs = kK != 0 ? kK * kK : s.kernel_h * s.kernel_w, channels = s.in_channels;
  const size_t in_plane = s.in_h * s.in_w, out_plane = g.oh * g.ow;
  float* xpad = dw != nullptr ? ConvScratch(ConvSlot::kPackB, g.x_floats) : nullptr;
  float* dypad = ConvScratch(ConvSlot::kPlanes, g.dy_floats);
  float* rows = dx != nullptr ? ConvScratch(ConvSlot::kRows, DepthwiseRowsScratch(g, s)) : nullptr;
  if (xpad != nullptr) std::fill(xpad, xpad + g.x_floats, 0.0f);
  std::fill(dypad, dypad + g.dy_floats, 0.0f);
  V wv[kDepthwiseMaxTaps], acc[kDepthwiseMaxTaps];
  V bacc = hn::Zero(d);
  const DepthwiseWeightAcc<kK * kK> sums(s, by_channel, i0, i1);
  std::vector<uint32_t> order;
  DepthwisePlaneOrder(s, by_channel, i0, i1, &order);
  for (const uint32_t u : order) {
    const size_t c = u % channels, n = u / channels;
    if (dx != nullptr) {
      for (size_t t = 0; t < rs; ++t) wv[t] = hn::Set(d, w[c * rs + t]);
    }
    if (dw != nullptr) sums.Begin(c, n, acc, bacc);
    DepthwisePadDy(g, dy + u * out_plane, dypad);
    if (dw != nullptr) {
      DepthwisePadPlane(s, g, x + u * in_plane, xpad);
      DepthwiseRowsWeightsPlane<true, kK>(s, g, xpad, dypad, acc, bacc);
      sums.End(c, n, acc, bacc, dw, dbias);
    }
    if (dx != nullptr) DepthwiseRowsDataPlane(s, g, dypad, wv, rows, dx + u * in_plane);
  }
}

// Runs fn(i0, i1) over ranges of the batch * channels planes in the order plane i = c * batch
// + n (by_channel: tasks over channel ranges, each channel's images in order, so the weight
// sums do not depend on the thread count) or i = n * channels + c (backward-data only).
inline void RunDepthwiseBackward(const Conv2dShape& s, ThreadPool& pool, bool by_channel,
                                 const std::function<void(size_t, size_t)>& fn) {
  if (!by_channel) {
    RunDepthwisePlanes(s, pool, fn);
    return;
  }
  const size_t channels = s.in_channels;
  const bool parallel = channels > 1 && detail::ConvParallel(s, pool);
  const size_t tasks = parallel ? std::min(channels, 4 * pool.NumThreads()) : 1;
  detail::RunTasks(pool, parallel, tasks, [&](uint64_t task, size_t) {
    fn(s.batch * (channels * task / tasks), s.batch * (channels * (task + 1) / tasks));
  });
}

// Computes dx (when non-null; overwritten) and accumulates dw (+ dbias when both are
// non-null) for a depthwise shape in one pass over x and dy (see above); at least one of dx
// and dw is non-null. x is read only when dw is non-null.
// Requires: DepthwiseBackwardApplies(s).
inline void ConvBackwardDepthwise(const Conv2dShape& s, const float* x, const float* dy,
                                  const float* w, float* dx, float* dw, float* dbias,
                                  ThreadPool& pool) {
  const bool by_channel = dw != nullptr;
  if (dw == nullptr) dbias = nullptr;
  const bool k3 = s.kernel_h == 3 && s.kernel_w == 3;
  if (DepthwiseRowsApply(s)) {
    const DepthwiseRowGeom g(s);
    RunDepthwiseBackward(s, pool, by_channel, [&](size_t i0, size_t i1) {
      (k3 ? DepthwiseBackwardRowsPlanes<3>
          : DepthwiseBackwardRowsPlanes<0>)(s, g, by_channel, i0, i1, x, dy, w, dx, dw, dbias);
    });
    return;
  }
  const DepthwiseS1Geom g(s);
  RunDepthwiseBackward(s, pool, by_channel, [&](size_t i0, size_t i1) {
    (k3 ? DepthwiseBackwardS1Planes<3> : DepthwiseBackwardS1Planes<0>)(s, g, by_channel, i0, i1, x,
                                                                       dy, w, dx, dw, dbias);
  });
}

// Computes y = act(conv(x, w) + bias) for a depthwise shape. With flip_taps, tap t of each
// channel uses w[R*S - 1 - t] (the spatially flipped kernel: backward-data as a forward).
// Planes are independent tasks; four blocks at a time keep four FMA chains in flight.
inline void ConvForwardDepthwise(const Conv2dShape& s, const float* x, const float* w,
                                 const float* bias, float* y, bool relu, ThreadPool& pool,
                                 bool flip_taps = false) {
  if (DepthwiseRowsApply(s)) {
    const bool k3 = s.kernel_h == 3 && s.kernel_w == 3;
    (k3 ? DepthwiseRowsForward<true, 3> : DepthwiseRowsForward<true, 0>)(s, x, w, bias, y, relu,
                                                                         flip_taps, pool);
    return;
  }
  const detail::ConvGeom geo(s);
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  const PhasedLayout layout(s);
  const std::vector<int32_t> off = layout.Offsets(s, geo);
  const ConvTarget target{N, kGemmMR};
  const bool virtual_grid = PlanDepthwiseLayout(s, target) == DirectLayout::kScatter;
  const std::vector<DepthwiseBlock> blocks = DepthwiseBlocks(s, layout.wq, layout.nv, virtual_grid);
  const size_t nb = blocks.size(), rs = geo.rs;
  const size_t slack = layout.wq + 2 * N;
  RunDepthwisePlanes(s, pool, [&](size_t u0, size_t u1) {
    float* xpad = ConvScratch(ConvSlot::kPackB, layout.channel_size + slack);
    float* vbuf = virtual_grid ? ConvScratch(ConvSlot::kAcc, nb * N) : nullptr;
    float* taps = ConvScratch(ConvSlot::kRows, rs);
    for (size_t u = u0; u < u1; ++u) {
      const size_t c = u % s.in_channels;
      layout.Fill(s, x + u * geo.hw, 1, slack, xpad);
      for (size_t t = 0; t < rs; ++t) taps[t] = w[c * rs + (flip_taps ? rs - 1 - t : t)];
      const V vb = hn::Set(d, bias != nullptr ? bias[c] : 0.0f);
      float* HWY_RESTRICT out = virtual_grid ? vbuf : y + u * geo.p;
      // In the buffer the ReLU waits for the copy-out (no effect on the discarded columns).
      size_t b = 0;
      for (; b + 4 <= nb; b += 4) {
        const DepthwiseBlock* bl = &blocks[b];
        V a0 = vb, a1 = vb, a2 = vb, a3 = vb;
        for (size_t t = 0; t < rs; ++t) {
          const V wv = hn::Set(d, taps[t]);
          const float* HWY_RESTRICT xt = xpad + off[t];
          a0 = hn::MulAdd(wv, hn::LoadU(d, xt + bl[0].src), a0);
          a1 = hn::MulAdd(wv, hn::LoadU(d, xt + bl[1].src), a1);
          a2 = hn::MulAdd(wv, hn::LoadU(d, xt + bl[2].src), a2);
          a3 = hn::MulAdd(wv, hn::LoadU(d, xt + bl[3].src), a3);
        }
        StoreDepthwise(d, a0, relu, out + bl[0].dst, bl[0].count);
        StoreDepthwise(d, a1, relu, out + bl[1].dst, bl[1].count);
        StoreDepthwise(d, a2, relu, out + bl[2].dst, bl[2].count);
        StoreDepthwise(d, a3, relu, out + bl[3].dst, bl[3].count);
      }
      for (; b < nb; ++b) {
        V a = vb;
        for (size_t t = 0; t < rs; ++t) {
          a = hn::MulAdd(hn::Set(d, taps[t]), hn::LoadU(d, xpad + off[t] + blocks[b].src), a);
        }
        StoreDepthwise(d, a, relu, out + blocks[b].dst, blocks[b].count);
      }
      if (virtual_grid) {
        float* HWY_RESTRICT yu = y + u * geo.p;
        for (size_t r = 0; r < geo.oh; ++r) CopyRow(vbuf + r * layout.wq, geo.ow, yu + r * geo.ow);
      }
    }
  });
}

// Loads dy[0, count) as a vector, zeros past count (through `tmp` when count < N, so no load
// leaves dy).
template <class D>
HWY_INLINE hn::Vec<D> LoadDyVector(D d, const float* HWY_RESTRICT src, size_t count,
                                   float* HWY_RESTRICT tmp) {
  if (count == hn::Lanes(d)) return hn::LoadU(d, src);
  std::fill(tmp, tmp + hn::Lanes(d), 0.0f);
  std::copy(src, src + count, tmp);
  return hn::Load(d, tmp);
}

// Writes input pixels of one channel from its PhasedLayout accumulator `acc` to dx (the adjoint
// of PhasedLayout::Fill: the padding is dropped).
inline void UnphaseChannel(const Conv2dShape& s, const PhasedLayout& layout,
                           const float* HWY_RESTRICT acc, float* HWY_RESTRICT dx) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t sw = s.stride_w, plane = layout.hq * layout.wq;
  for (size_t ih = 0; ih < s.in_h; ++ih) {
    const size_t ph = ih + s.pad_h, a = ph % s.stride_h, i = ph / s.stride_h;
    float* HWY_RESTRICT drow = dx + ih * s.in_w;
    // Column iw is padded column iw + pad_w: phase (iw + pad_w) % sw, index (iw + pad_w) / sw.
    auto phase_row = [&](size_t b) { return acc + (a * sw + b) * plane + i * layout.wq; };
    size_t iw = 0;
    if (sw == 1) {
      CopyRow(phase_row(0) + s.pad_w, s.in_w, drow);
      continue;
    }
    if (sw == 2) {
      // Even columns iw: pairs (iw, iw + 1) come from the two phases at the same index step.
      const float* HWY_RESTRICT lo = phase_row(s.pad_w % 2) + s.pad_w / 2;
      const float* HWY_RESTRICT hi = phase_row((s.pad_w + 1) % 2) + (s.pad_w + 1) / 2;
      for (; iw + 2 * N <= s.in_w; iw += 2 * N) {
        hn::StoreInterleaved2(hn::LoadU(d, lo + iw / 2), hn::LoadU(d, hi + iw / 2), d, drow + iw);
      }
    }
    for (; iw < s.in_w; ++iw) {
      const size_t q = iw + s.pad_w;
      drow[iw] = phase_row(q % sw)[q / sw];
    }
  }
}

// Computes dx for a depthwise shape: ConvBackwardDepthwise without the weight gradient where it
// applies (stride 1 within the kernel's reach, column stride 2). Otherwise the forward of dy
// with the flipped taps (FlippedConvShape) for stride 1, or each dy vector is multiplied by
// each tap and added into the channel's zero-padded, phase-split accumulator at the tap's
// offset (contiguous for any stride), which is then cropped into dx.
inline void ConvBackwardDataDepthwise(const Conv2dShape& s, const float* dy, const float* w,
                                      float* dx, ThreadPool& pool) {
  if (DepthwiseBackwardApplies(s)) {
    ConvBackwardDepthwise(s, nullptr, dy, w, dx, nullptr, nullptr, pool);
    return;
  }
  if (ConvAlgorithmApplies(s, ConvPass::kBackwardData, ConvAlgorithm::kFlippedForward)) {
    ConvForwardDepthwise(FlippedConvShape(s), dy, w, nullptr, dx, false, pool, true);
    return;
  }
  const detail::ConvGeom geo(s);
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  const PhasedLayout layout(s);
  const std::vector<int32_t> off = layout.Offsets(s, geo);
  const size_t rs = geo.rs, slack = layout.wq + 2 * N;
  RunDepthwisePlanes(s, pool, [&](size_t u0, size_t u1) {
    float* acc = ConvScratch(ConvSlot::kPlanes, layout.channel_size + slack);
    HWY_ALIGN float tmp[hn::MaxLanes(GemmD())];
    for (size_t u = u0; u < u1; ++u) {
      const float* HWY_RESTRICT wc = w + (u % s.in_channels) * rs;
      std::fill(acc, acc + layout.channel_size + slack, 0.0f);
      const float* HWY_RESTRICT dyu = dy + u * geo.p;
      for (size_t r = 0; r < geo.oh; ++r) {
        for (size_t j = 0; j < geo.ow; j += N) {
          const size_t count = std::min(N, geo.ow - j);
          const V v = LoadDyVector(d, dyu + r * geo.ow + j, count, tmp);
          float* HWY_RESTRICT base = acc + r * layout.wq + j;
          for (size_t t = 0; t < rs; ++t) {
            float* HWY_RESTRICT dst = base + off[t];
            const V sum = hn::MulAdd(hn::Set(d, wc[t]), v, hn::LoadU(d, dst));
            if (count == N) {
              hn::StoreU(sum, d, dst);
            } else {
              hn::BlendedStore(sum, hn::FirstN(d, count), d, dst);
            }
          }
        }
      }
      UnphaseChannel(s, layout, acc, dx + u * geo.hw);
    }
  });
}

// Accumulates dw (and dbias) for a depthwise shape: ConvBackwardDepthwise without dx where it
// applies. Otherwise per channel (one task per channel range, so sums do not depend on the
// thread count), vector partial sums of dy * x for up to
// kDepthwiseMaxTaps taps at a time over every image and output pixel, dy read once per vector
// for all of them and for the bias sum.
inline void ConvBackwardWeightsDepthwise(const Conv2dShape& s, const float* x, const float* dy,
                                         float* dw, float* dbias, ThreadPool& pool) {
  if (DepthwiseBackwardApplies(s)) {
    ConvBackwardDepthwise(s, x, dy, nullptr, nullptr, dw, dbias, pool);
    return;
  }
  const detail::ConvGeom geo(s);
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  const PhasedLayout layout(s);
  const std::vector<int32_t> off = layout.Offsets(s, geo);
  const size_t rs = geo.rs, slack = layout.wq + 2 * N, channels = s.in_channels;
  const bool parallel = channels > 1 && detail::ConvParallel(s, pool);
  const size_t tasks = parallel ? std::min(channels, 4 * pool.NumThreads()) : 1;
  detail::RunTasks(pool, parallel, tasks, [&](uint64_t task, size_t) {
    const size_t c0 = channels * task / tasks, c1 = channels * (task + 1) / tasks;
    float* xpad = ConvScratch(ConvSlot::kPackB, layout.channel_size + slack);
    HWY_ALIGN float tmp[hn::MaxLanes(GemmD())];
    for (size_t c = c0; c < c1; ++c) {
      for (size_t t0 = 0; t0 < rs; t0 += kDepthwiseMaxTaps) {
        const size_t nt = std::min(kDepthwiseMaxTaps, rs - t0);
        V acc[kDepthwiseMaxTaps];
        for (size_t i = 0; i < kDepthwiseMaxTaps; ++i) acc[i] = hn::Zero(d);
        V bacc = hn::Zero(d);
        for (size_t n = 0; n < s.batch; ++n) {
          const size_t u = n * channels + c;
          layout.Fill(s, x + u * geo.hw, 1, slack, xpad);
          const float* HWY_RESTRICT dyu = dy + u * geo.p;
          for (size_t r = 0; r < geo.oh; ++r) {
            for (size_t j = 0; j < geo.ow; j += N) {
              const V v = LoadDyVector(d, dyu + r * geo.ow + j, std::min(N, geo.ow - j), tmp);
              const float* HWY_RESTRICT xb = xpad + r * layout.wq + j;
              bacc = hn::Add(bacc, v);
              HWY_UNROLL(9)
              for (size_t i = 0; i < kDepthwiseMaxTaps; ++i) {
                if (i < nt) acc[i] = hn::MulAdd(v, hn::LoadU(d, xb + off[t0 + i]), acc[i]);
              }
            }
          }
        }
        for (size_t i = 0; i < nt; ++i) {
          dw[c * rs + t0 + i] += hn::GetLane(hn::SumOfLanes(d, acc[i]));
        }
        if (t0 == 0 && dbias != nullptr) dbias[c] += hn::GetLane(hn::SumOfLanes(d, bacc));
      }
    }
  });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV_DEPTHWISE_TOGGLE
