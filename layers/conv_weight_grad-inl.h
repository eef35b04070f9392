// Per-target dot-product weight gradient for shapes with few taps per output channel (the
// stems): dy and x multiplied along the pixels in register tiles, no transposes or packing.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV_WEIGHT_GRAD_INL_H_
#define SIMDNET_LAYERS_CONV_WEIGHT_GRAD_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#endif  // SIMDNET_LAYERS_CONV_WEIGHT_GRAD_INL_H_

#if defined(SIMDNET_LAYERS_CONV_WEIGHT_GRAD_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV_WEIGHT_GRAD_TOGGLE
#undef SIMDNET_LAYERS_CONV_WEIGHT_GRAD_TOGGLE
#else
#define SIMDNET_LAYERS_CONV_WEIGHT_GRAD_TOGGLE
#endif

#include "hwy/highway.h"
#include "layers/conv_common-inl.h"
#include "tensor/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Register tile of the dot-product weight gradient (ConvBackwardWeightsDot): kDotK output
// channels x kDotC taps of vector partial sums, plus kDotK dy vectors and one x vector.
// AVX-512: 4 x 5 (32 registers); AVX2 / SSE4: 3 x 4 (16); scalar: 2 x 2.
constexpr size_t kDotK = HWY_TARGET == HWY_SCALAR ? 2 : HWY_TARGET <= HWY_AVX3 ? 4 : 3;
constexpr size_t kDotC = HWY_TARGET == HWY_SCALAR ? 2 : kDotK + 1;

// vacc[(i * ldv + j) * N + lane] += sum over q in [0, nfull) step N of lane products
// dyr[i][q + lane] * xr[j][q + lane], for i < kK, j < kC; then, if dtr is non-null, one more
// vector with dy from dtr[i] (aligned) and x at xr[j] + nfull. With kBias, also
// vbias[i * N + lane] += the same dy lanes (the bias gradient rides along on the FP adders).
// Not inlined: alone, its kK * kC + 2 * kK + 1 vectors get registers (inlined into the large
// caller, GCC spilled a dy vector every step; S1 weight gradient 85 -> 93 GFLOPS).
template <size_t kK, size_t kC, bool kBias>
HWY_NOINLINE void DotTile(size_t nfull, const float* const* HWY_RESTRICT dyr,
                          const float* const* HWY_RESTRICT dtr,
                          const float* const* HWY_RESTRICT xr, float* HWY_RESTRICT vacc,
                          size_t ldv, float* HWY_RESTRICT vbias) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  V acc[kK][kC], bsum[kK];
  HWY_UNROLL(8)
  for (size_t i = 0; i < kK; ++i) {
    bsum[i] = hn::Zero(d);
    HWY_UNROLL(8)
    for (size_t j = 0; j < kC; ++j) acc[i][j] = hn::Zero(d);
  }
  auto step = [&](const V* y, size_t q) HWY_ATTR {
    HWY_UNROLL(8)
    for (size_t j = 0; j < kC; ++j) {
      const V xv = hn::LoadU(d, xr[j] + q);
      HWY_UNROLL(8)
      for (size_t i = 0; i < kK; ++i) acc[i][j] = hn::MulAdd(y[i], xv, acc[i][j]);
    }
    if constexpr (kBias) {
      HWY_UNROLL(8)
      for (size_t i = 0; i < kK; ++i) bsum[i] = hn::Add(bsum[i], y[i]);
    }
  };
  for (size_t q = 0; q < nfull; q += N) {
    V y[kK];
    HWY_UNROLL(8)
    for (size_t i = 0; i < kK; ++i) y[i] = hn::LoadU(d, dyr[i] + q);
    step(y, q);
  }
  if (dtr != nullptr) {
    V y[kK];
    HWY_UNROLL(8)
    for (size_t i = 0; i < kK; ++i) y[i] = hn::Load(d, dtr[i]);
    step(y, nfull);
  }
  HWY_UNROLL(8)
  for (size_t i = 0; i < kK; ++i) {
    HWY_UNROLL(8)
    for (size_t j = 0; j < kC; ++j) {
      float* HWY_RESTRICT p = vacc + (i * ldv + j) * N;
      hn::Store(hn::Add(hn::Load(d, p), acc[i][j]), d, p);
    }
    if constexpr (kBias) {
      hn::Store(hn::Add(hn::Load(d, vbias + i * N), bsum[i]), d, vbias + i * N);
    }
  }
}

// Runs DotTile<rows, cols> for 1 <= rows <= kK, 1 <= cols <= kC, with the bias sums when
// vbias is non-null.
template <size_t kK, size_t kC>
HWY_INLINE void DotTileAny(size_t rows, size_t cols, size_t nfull,
                           const float* const* HWY_RESTRICT dyr,
                           const float* const* HWY_RESTRICT dtr,
                           const float* const* HWY_RESTRICT xr, float* HWY_RESTRICT vacc,
                           size_t ldv, float* HWY_RESTRICT vbias = nullptr) {
  if constexpr (kK > 1) {
    if (rows < kK) {
      DotTileAny<kK - 1, kC>(rows, cols, nfull, dyr, dtr, xr, vacc, ldv, vbias);
      return;
    }
  }
  if constexpr (kC > 1) {
    if (cols < kC) {
      DotTileAny<kK, kC - 1>(rows, cols, nfull, dyr, dtr, xr, vacc, ldv, vbias);
      return;
    }
  }
  if (vbias != nullptr) {
    DotTile<kK, kC, true>(nfull, dyr, dtr, xr, vacc, ldv, vbias);
  } else {
    DotTile<kK, kC, false>(nfull, dyr, dtr, xr, vacc, ldv, nullptr);
  }
}

// Weight gradient for shapes with few taps (c, r, t) per output channel, e.g. the first layer
// (1-3 input channels): dW[k][crs] = sum over images and pixels of dy[k][pixel] * x[tap of
// crs at that pixel], vectorized along the pixels: no transposes and no packing. Stride 1
// (dense mode) runs over the output pixels with dy read in place and x from copies of the
// padded image shifted by each kernel column and cropped to out_w (every lane an output);
// other strides run over the virtual pixel grid of the PhasedLayout image (as in
// ConvBackwardWeightsDirect) with dy copied onto that grid (zeros for the columns that are not
// outputs). Register tiles of kDotK x kDotC vector sums are added into per-task lane partials,
// reduced to dw once per task. Fuses the bias sums. Tasks: (group, image chunk), partials
// added in chunk order.
inline void ConvBackwardWeightsDot(const Conv2dShape& s, const float* x, const float* dy,
                                   float* dw, float* dbias, ThreadPool& pool, bool parallel) {
  const detail::ConvGeom geo(s);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const PhasedLayout layout(s);
  const size_t wq = layout.wq, nv = layout.nv, nvr = detail::RoundUp(nv, N);
  const std::vector<int32_t> off = layout.Offsets(s, geo);
  const size_t threads = pool.NumThreads();
  const size_t img_chunks = WeightGradImageChunks(s, parallel, threads);
  const ChunkPartials partials(s, img_chunks, dw, dbias);
  const float* dy_end = dy + s.batch * s.out_channels * geo.p;
  const auto tail = hn::FirstN(d, geo.ow % N);
  // Dense mode (stride 1): the reduction runs over the P output pixels themselves (every lane an
  // output, dy read in place) against shifted copies of the image, xs[(c, t)] of layout.hp rows
  // x out_w columns; tap (c, r, t) starts r * dilation_h rows into copy (c, t).
  const bool dense = s.stride_h == 1 && s.stride_w == 1;
  const DenseShifted shifted(s, layout);
  const size_t pfull = geo.p / N * N;
  const std::vector<int32_t> xoff = dense ? shifted.Offsets(s, geo) : std::vector<int32_t>();
  detail::RunTasks(pool, parallel, s.groups * img_chunks, [&](uint64_t task, size_t) {
    const size_t ichunk = task % img_chunks, g = task / img_chunks;
    const size_t n0 = s.batch * ichunk / img_chunks, n1 = s.batch * (ichunk + 1) / img_chunks;
    if (n1 <= n0) return;
    // vacc: kg x crs vectors of lane partial sums, then kg bias vectors.
    const size_t vsize = (geo.kg * geo.crs + geo.kg) * N;
    float* vacc = ConvScratch(ConvSlot::kAcc, vsize);
    std::fill(vacc, vacc + vsize, 0.0f);
    float* vbias = vacc + geo.kg * geo.crs * N;
    float* xpad = ConvScratch(ConvSlot::kPackB, geo.cg * layout.channel_size + N);
    const float* dyr[kDotK];
    const float* dtr[kDotK];
    const float* xr[kDotC];
    if (dense) {
      // x for tap (c, r, t) at output pixel p = oh * out_w + ow is xs[xoff[crs] + p]: per
      // (c, t), the padded image shifted by t * dilation_w columns and cropped to out_w
      // columns; dy is read in place, its last partial vector per row from dtail.
      float* xs = ConvScratch(ConvSlot::kPackA, shifted.floats + N);
      float* dtail = ConvScratch(ConvSlot::kRows, geo.kg * N);
      for (size_t n = n0; n < n1; ++n) {
        layout.Fill(s, x + (n * s.in_channels + g * geo.cg) * geo.hw, geo.cg, N, xpad);
        shifted.Build(s, geo, layout, xpad, xs);
        const float* dyg = dy + (n * s.out_channels + g * geo.kg) * geo.p;
        // The last partial vector of each dy row, zero-padded (the tiles' tail step).
        if (pfull < geo.p) {
          for (size_t k = 0; k < geo.kg; ++k) {
            float* HWY_RESTRICT tk = dtail + k * N;
            std::fill(tk, tk + N, 0.0f);
            std::copy(dyg + k * geo.p + pfull, dyg + (k + 1) * geo.p, tk);
          }
        }
        for (size_t k0 = 0; k0 < geo.kg; k0 += kDotK) {
          const size_t rows = std::min(kDotK, geo.kg - k0);
          for (size_t i = 0; i < kDotK; ++i) {
            const size_t k = k0 + (i < rows ? i : 0);
            dyr[i] = dyg + k * geo.p;
            dtr[i] = dtail + k * N;
          }
          for (size_t j0 = 0; j0 < geo.crs; j0 += kDotC) {
            const size_t cols = std::min(kDotC, geo.crs - j0);
            for (size_t j = 0; j < kDotC; ++j) xr[j] = xs + xoff[j0 + (j < cols ? j : 0)];
            // The first column tile also sums the bias gradient of its dy rows.
            DotTileAny<kDotK, kDotC>(rows, cols, pfull, dyr, pfull < geo.p ? dtr : nullptr, xr,
                                     vacc + (k0 * geo.crs + j0) * N, geo.crs,
                                     j0 == 0 ? vbias + k0 * N : nullptr);
          }
        }
      }
    } else {
      float* dyv = ConvScratch(ConvSlot::kPackA, geo.kg * nvr + N);
      for (size_t n = n0; n < n1; ++n) {
        layout.Fill(s, x + (n * s.in_channels + g * geo.cg) * geo.hw, geo.cg, N, xpad);
        // dy on the virtual grid: rows of out_w outputs at stride wq, zeros in between and
        // after nv; the bias sums ride along.
        const float* dyg = dy + (n * s.out_channels + g * geo.kg) * geo.p;
        for (size_t k = 0; k < geo.kg; ++k) {
          const float* HWY_RESTRICT src = dyg + k * geo.p;
          float* HWY_RESTRICT dst = dyv + k * nvr;
          auto bsum = hn::Load(d, vbias + k * N);
          // Whole vectors per row: the last one is masked to the row (zeros over the gap) and
          // may spill into the next row's start, which that row's copy then overwrites.
          for (size_t oh = 0; oh < geo.oh; ++oh) {
            const float* HWY_RESTRICT srow = src + oh * geo.ow;
            float* HWY_RESTRICT drow = dst + oh * wq;
            size_t ow = 0;
            for (; ow + N <= geo.ow; ow += N) {
              const auto v = hn::LoadU(d, srow + ow);
              bsum = hn::Add(bsum, v);
              hn::StoreU(v, d, drow + ow);
            }
            if (ow < geo.ow) {
              hn::Vec<GemmD> v;
              if (srow + ow + N > dy_end) {  // a whole-vector load would leave dy
                HWY_ALIGN float tmp[hn::MaxLanes(GemmD())] = {};
                std::copy(srow + ow, srow + geo.ow, tmp);
                v = hn::Load(d, tmp);
              } else {
                v = hn::IfThenElseZero(tail, hn::LoadU(d, srow + ow));
              }
              bsum = hn::Add(bsum, v);
              hn::StoreU(v, d, drow + ow);
              ow += N;
            }
            // Zero what the vectors did not cover up to the next row (or to nvr after the last).
            const size_t row_end = oh + 1 < geo.oh ? wq : nvr - oh * wq;
            for (size_t i = std::max(ow, geo.ow); i < row_end; ++i) drow[i] = 0.0f;
          }
          hn::Store(bsum, d, vbias + k * N);
        }
        for (size_t k0 = 0; k0 < geo.kg; k0 += kDotK) {
          const size_t rows = std::min(kDotK, geo.kg - k0);
          for (size_t i = 0; i < kDotK; ++i) dyr[i] = dyv + (k0 + (i < rows ? i : 0)) * nvr;
          for (size_t j0 = 0; j0 < geo.crs; j0 += kDotC) {
            const size_t cols = std::min(kDotC, geo.crs - j0);
            for (size_t j = 0; j < kDotC; ++j) xr[j] = xpad + off[j0 + (j < cols ? j : 0)];
            DotTileAny<kDotK, kDotC>(rows, cols, nvr, dyr, nullptr, xr,
                                     vacc + (k0 * geo.crs + j0) * N, geo.crs);
          }
        }
      }
    }
    float* target = partials.Weights(ichunk) + g * geo.kg * geo.crs;
    for (size_t i = 0; i < geo.kg * geo.crs; ++i) {
      target[i] += hn::GetLane(hn::SumOfLanes(d, hn::Load(d, vacc + i * N)));
    }
    if (float* btarget = partials.Bias(ichunk)) {
      for (size_t k = 0; k < geo.kg; ++k) {
        btarget[g * geo.kg + k] += hn::GetLane(hn::SumOfLanes(d, hn::Load(d, vbias + k * N)));
      }
    }
  });
  partials.AddToOutputs(pool);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV_WEIGHT_GRAD_TOGGLE
