// Per-target im2col / col2im GEMM convolution: the implicit-GEMM forward (im2col fused into
// the B packing), backward-data as GEMM + col2im in bounded pixel chunks, and backward-weights
// as a GEMM with the transposed im2col packed by masked gathers.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV_GEMM_INL_H_
#define SIMDNET_LAYERS_CONV_GEMM_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#endif  // SIMDNET_LAYERS_CONV_GEMM_INL_H_

#if defined(SIMDNET_LAYERS_CONV_GEMM_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV_GEMM_TOGGLE
#undef SIMDNET_LAYERS_CONV_GEMM_TOGGLE
#else
#define SIMDNET_LAYERS_CONV_GEMM_TOGGLE
#endif

#include "hwy/highway.h"
#include "layers/conv_common-inl.h"
#include "tensor/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;


// Packs rows [crs0, crs0 + kc) x output pixels [q0, q0 + nc) of the im2col matrix of one image
// and group (x points at its first input channel) into PackB layout. Consecutive output pixels
// of one output row are copied as runs (CopyRow for stride 1), padding becomes zeros.
inline void PackIm2col(const Conv2dShape& s, const detail::ConvGeom& geo,
                       const float* HWY_RESTRICT x, size_t crs0, size_t kc, size_t q0,
                       size_t nc, float* HWY_RESTRICT dst) {
  const size_t NR = GemmNR();
  const long in_h = static_cast<long>(s.in_h), in_w = static_cast<long>(s.in_w);
  struct Run {
    size_t j, len;
    long ih0, iw0;
  };
  Run runs[2 * hn::MaxLanes(GemmD()) + 1];
  for (size_t js = 0; js < nc; js += NR) {
    const size_t cols = std::min(NR, nc - js);
    size_t num_runs = 0;
    for (size_t j = 0, q = q0 + js; j < cols;) {
      const size_t oh = q / geo.ow, ow = q % geo.ow;
      const size_t len = std::min(cols - j, geo.ow - ow);
      runs[num_runs++] = {j, len, static_cast<long>(oh * s.stride_h) - static_cast<long>(s.pad_h),
                          static_cast<long>(ow * s.stride_w) - static_cast<long>(s.pad_w)};
      j += len;
      q += len;
    }
    float* HWY_RESTRICT out = dst + js * kc;
    size_t c = crs0 / geo.rs, r = (crs0 % geo.rs) / s.kernel_w, t = crs0 % s.kernel_w;
    for (size_t p = 0; p < kc; ++p) {
      float* HWY_RESTRICT o = out + p * NR;
      const float* HWY_RESTRICT xc = x + c * geo.hw;
      const long rr = static_cast<long>(r * s.dilation_h);
      const long tt = static_cast<long>(t * s.dilation_w);
      for (size_t i = 0; i < num_runs; ++i) {
        const Run& run = runs[i];
        float* HWY_RESTRICT os = o + run.j;
        const long ih = run.ih0 + rr;
        if (ih < 0 || ih >= in_h) {
          std::fill(os, os + run.len, 0.0f);
          continue;
        }
        const float* HWY_RESTRICT row = xc + ih * in_w;
        const long iw0 = run.iw0 + tt;
        const long len = static_cast<long>(run.len);
        if (s.stride_w == 1) {
          const long lo = std::min(len, std::max(0L, -iw0));
          const long hi = std::max(lo, std::min(len, in_w - iw0));
          std::fill(os, os + lo, 0.0f);
          if (hi > lo) CopyRow(row + iw0 + lo, static_cast<size_t>(hi - lo), os + lo);
          std::fill(os + hi, os + len, 0.0f);
        } else {
          const long sw = static_cast<long>(s.stride_w);
          for (long j = 0; j < len; ++j) {
            const long iw = iw0 + j * sw;
            os[j] = (iw >= 0 && iw < in_w) ? row[iw] : 0.0f;
          }
        }
      }
      for (size_t j = cols; j < NR; ++j) o[j] = 0.0f;
      if (++t == s.kernel_w) {
        t = 0;
        if (++r == s.kernel_h) {
          r = 0;
          ++c;
        }
      }
    }
  }
}

// Packs output pixels [q0, q0 + kc) (rows of the GEMM) x im2col rows [j0, j0 + nc) (columns)
// of one image and group, i.e. the transposed im2col matrix, into PackB layout, gathering one
// vector of columns per pixel with bounds masks (padding becomes zeros).
inline void PackIm2colTransposed(const Conv2dShape& s, const detail::ConvGeom& geo,
                                 const float* HWY_RESTRICT x, size_t q0, size_t kc, size_t j0,
                                 size_t nc, float* HWY_RESTRICT dst) {
  const GemmD df;
  const hn::RebindToSigned<GemmD> di;
  using VI = hn::Vec<decltype(di)>;
  const size_t N = hn::Lanes(df);
  const size_t NR = GemmNR();
  HWY_ALIGN int32_t off[2 * hn::MaxLanes(GemmD())];
  HWY_ALIGN int32_t rr[2 * hn::MaxLanes(GemmD())];
  HWY_ALIGN int32_t tt[2 * hn::MaxLanes(GemmD())];
  const int32_t in_w = static_cast<int32_t>(s.in_w);
  const VI vh = hn::Set(di, static_cast<int32_t>(s.in_h));
  const VI vw = hn::Set(di, in_w);
  const VI minus1 = hn::Set(di, -1);
  for (size_t js = 0; js < nc; js += NR) {
    const size_t cols = std::min(NR, nc - js);
    for (size_t j = 0; j < NR; ++j) {
      if (j < cols) {
        const size_t crs = j0 + js + j;
        const size_t c = crs / geo.rs, r = (crs % geo.rs) / s.kernel_w, t = crs % s.kernel_w;
        rr[j] = static_cast<int32_t>(r * s.dilation_h);
        tt[j] = static_cast<int32_t>(t * s.dilation_w);
        off[j] = static_cast<int32_t>(c * geo.hw) + rr[j] * in_w + tt[j];
      } else {
        // Out of range of any input: the bounds mask zeroes the column.
        off[j] = 0;
        rr[j] = -(1 << 30);
        tt[j] = 0;
      }
    }
    const VI off0 = hn::Load(di, off), off1 = hn::Load(di, off + N);
    const VI rr0 = hn::Load(di, rr), rr1 = hn::Load(di, rr + N);
    const VI tt0 = hn::Load(di, tt), tt1 = hn::Load(di, tt + N);
    float* HWY_RESTRICT out = dst + js * kc;
    size_t oh = (q0) / geo.ow, ow = q0 % geo.ow;
    for (size_t p = 0; p < kc; ++p) {
      const int32_t ih0 = static_cast<int32_t>(oh * s.stride_h) - static_cast<int32_t>(s.pad_h);
      const int32_t iw0 = static_cast<int32_t>(ow * s.stride_w) - static_cast<int32_t>(s.pad_w);
      const VI vih0 = hn::Set(di, ih0), viw0 = hn::Set(di, iw0);
      const VI base = hn::Set(di, ih0 * in_w + iw0);
      const VI ih_a = hn::Add(vih0, rr0), ih_b = hn::Add(vih0, rr1);
      const VI iw_a = hn::Add(viw0, tt0), iw_b = hn::Add(viw0, tt1);
      const auto ok0 = hn::And(hn::And(hn::Gt(ih_a, minus1), hn::Lt(ih_a, vh)),
                               hn::And(hn::Gt(iw_a, minus1), hn::Lt(iw_a, vw)));
      const auto ok1 = hn::And(hn::And(hn::Gt(ih_b, minus1), hn::Lt(ih_b, vh)),
                               hn::And(hn::Gt(iw_b, minus1), hn::Lt(iw_b, vw)));
      const VI idx0 = hn::IfThenElseZero(ok0, hn::Add(base, off0));
      const VI idx1 = hn::IfThenElseZero(ok1, hn::Add(base, off1));
      const auto v0 = hn::IfThenElseZero(hn::RebindMask(df, ok0), hn::GatherIndex(df, x, idx0));
      const auto v1 = hn::IfThenElseZero(hn::RebindMask(df, ok1), hn::GatherIndex(df, x, idx1));
      hn::Store(v0, df, out + p * NR);
      hn::Store(v1, df, out + p * NR + N);
      if (++ow == geo.ow) {
        ow = 0;
        ++oh;
      }
    }
  }
}

// Computes y = act(conv(x, w) + bias) (Conv2dForward's contract) as an implicit GEMM per
// (image, group, pixel chunk) task: A = packed weights (shared), B = im2col panel packed per task.
// Used for strides > 1.
inline void ConvForwardIm2col(const Conv2dShape& s, const float* x, const float* w,
                            const float* bias, float* y, bool relu, ThreadPool& pool) {
  const detail::ConvGeom geo(s);
  const size_t NR = GemmNR(), KC = GemmKC(), MC = GemmMC(), NC = ConvNC();
  const size_t rkg = detail::RoundUp(geo.kg, kGemmMR);
  // Pack all weights once per call: per group, per KC block, PackA strips.
  float* wpack = ConvScratch(ConvSlot::kWeights, s.groups * rkg * geo.crs);
  for (size_t g = 0; g < s.groups; ++g) {
    for (size_t pc = 0; pc < geo.crs; pc += KC) {
      const size_t kc = std::min(KC, geo.crs - pc);
      PackA(false, w + g * geo.kg * geo.crs + pc, geo.crs, geo.kg, kc, 1.0f,
            wpack + g * rkg * geo.crs + pc * rkg);
    }
  }
  const bool direct_b = s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 &&
                        s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0;
  const bool parallel = detail::ConvParallel(s, pool);
  const size_t strips = detail::DivCeil(geo.p, NR);
  const size_t chunks = detail::UnitChunks(s, pool, parallel, strips);
  detail::RunUnitChunks(s, pool, parallel, chunks, [&](size_t n, size_t g, size_t chunk) {
    const size_t q0 = std::min(geo.p, strips * chunk / chunks * NR);
    const size_t q1 = std::min(geo.p, strips * (chunk + 1) / chunks * NR);
    const float* xg = x + (n * s.in_channels + g * geo.cg) * geo.hw;
    float* yg = y + (n * s.out_channels + g * geo.kg) * geo.p;
    const float* wg = wpack + g * rkg * geo.crs;
    const float* bg = bias != nullptr ? bias + g * geo.kg : nullptr;
    float* bpack = ConvScratch(ConvSlot::kPackB, KC * detail::RoundUp(NC, NR));
    for (size_t jc = q0; jc < q1; jc += NC) {
      const size_t nc = std::min(NC, q1 - jc);
      for (size_t pc = 0; pc < geo.crs; pc += KC) {
        const size_t kc = std::min(KC, geo.crs - pc);
        const bool last = pc + kc == geo.crs;
        if (direct_b) {
          PackB(false, xg + pc * geo.hw + jc, geo.hw, kc, nc, bpack);
        } else {
          PackIm2col(s, geo, xg, pc, kc, jc, nc, bpack);
        }
        for (size_t ic = 0; ic < geo.kg; ic += MC) {
          const size_t mc = std::min(MC, geo.kg - ic);
          const TileEpilogue ep{pc == 0 ? 0.0f : 1.0f,
                                last && bg != nullptr ? bg + ic : nullptr, last && relu};
          MacroKernel(mc, nc, kc, wg + pc * rkg + ic * kc, bpack, yg + ic * geo.p + jc, geo.p,
                      ep);
        }
      }
    }
  });
}

// col2im for stride_w == 2: adds the column buffer col (rows (c, r, t) of channels [c0, c1),
// columns = output pixels [q0, q0 + qc)) into the dx planes dxg. For one (c, r) and a run of
// output pixels ow_a + i (i < len) in one output row, tap t lands on padded column
// 2 * (ow_a + i) + t * dilation_w. The input row is handled as pairs of columns
// (2 * (ow_a + k) + p0, + 1), p0 = pad_w % 2, so that pair k starts at the even input column
// 2 * (ow_a + k - (pad_w - p0) / 2): tap t feeds slot e_t = (t*dw - p0) % 2 of pair
// k = i + o_t, o_t = (t*dw - p0 - e_t) / 2. The taps of N pairs are summed in registers
// (bounds-masked loads; col has `slack` floats before and after) and added to the row with
// LoadInterleaved2 / StoreInterleaved2; pairs that straddle the row ends go through a buffer.
inline void Col2imStride2(const Conv2dShape& s, const detail::ConvGeom& geo,
                          const float* HWY_RESTRICT col, size_t qc, size_t q0, size_t c0,
                          size_t c1, float* HWY_RESTRICT dxg) {
  const GemmD d;
  const hn::RebindToSigned<GemmD> di;
  using V = hn::Vec<GemmD>;
  const long N = static_cast<long>(hn::Lanes(d));
  const long p0 = static_cast<long>(s.pad_w % 2), shift = static_cast<long>(s.pad_w / 2);
  const long in_w = static_cast<long>(s.in_w);
  const long reach = static_cast<long>(s.dilation_w * (s.kernel_w - 1));
  HWY_ALIGN float buf[2 * hn::MaxLanes(GemmD())];
  const auto iota = hn::Iota(di, 0);
  for (size_t c = c0; c < c1; ++c) {
    float* HWY_RESTRICT plane = dxg + c * geo.hw;
    for (size_t r = 0; r < s.kernel_h; ++r) {
      const float* HWY_RESTRICT taps = col + ((c - c0) * geo.rs + r * s.kernel_w) * qc;
      size_t oh = q0 / geo.ow, ow = q0 % geo.ow;
      for (size_t j = 0; j < qc;) {
        const long len = static_cast<long>(std::min(qc - j, geo.ow - ow));
        const long ih = static_cast<long>(oh * s.stride_h + r * s.dilation_h) -
                        static_cast<long>(s.pad_h);
        if (ih >= 0 && ih < static_cast<long>(s.in_h)) {
          float* HWY_RESTRICT drow = plane + ih * in_w;
          // Pair k covers input columns col_k and col_k + 1, col_k = 2 * (ow_a + k - shift).
          const long base = 2 * (static_cast<long>(ow) - shift);
          // Pairs with contributions: k in [-p0, len + floor((reach - p0) / 2)); pairs that
          // touch the row: col_k + 1 >= 0 and col_k < in_w.
          const auto floor_half = [](long v) { return v >= 0 ? v / 2 : -((1 - v) / 2); };
          const auto ceil_half = [](long v) { return v >= 0 ? (v + 1) / 2 : -((-v) / 2); };
          const long k_begin = std::max(-p0, ceil_half(-1 - base));
          const long k_end = std::min(len + floor_half(reach - p0), ceil_half(in_w - base));
          for (long k0 = k_begin; k0 < k_end; k0 += N) {
            V sum[2] = {hn::Zero(d), hn::Zero(d)};
            for (size_t t = 0; t < s.kernel_w; ++t) {
              const long dt = static_cast<long>(t * s.dilation_w);
              const long e = (dt - p0) & 1, o = (dt - p0 - e) / 2;
              // Lanes k0 + l with 0 <= k0 + l - o < len.
              const long first = k0 - o;
              const float* HWY_RESTRICT src = taps + t * qc + j + first;
              V v = hn::LoadU(d, src);
              if (first < 0 || first + N > len) {
                const auto lane = hn::Add(iota, hn::Set(di, static_cast<int32_t>(first)));
                const auto ok = hn::And(hn::Gt(lane, hn::Set(di, -1)),
                                        hn::Lt(lane, hn::Set(di, static_cast<int32_t>(len))));
                v = hn::IfThenElseZero(hn::RebindMask(d, ok), v);
              }
              sum[e] = hn::Add(sum[e], v);
            }
            const long cb = base + 2 * k0;  // input column of lane 0, slot 0
            if (cb >= 0 && cb + 2 * N <= in_w) {
              V a, b;
              hn::LoadInterleaved2(d, drow + cb, a, b);
              hn::StoreInterleaved2(hn::Add(a, sum[0]), hn::Add(b, sum[1]), d, drow + cb);
            } else {
              hn::StoreInterleaved2(sum[0], sum[1], d, buf);
              const long lo = std::max(0L, -cb), hi = std::min(2 * N, in_w - cb);
              for (long q = lo; q < hi; ++q) drow[cb + q] += buf[q];
            }
          }
        }
        j += static_cast<size_t>(len);
        ow = 0;
        ++oh;
      }
    }
  }
}

// Computes dx for stride > 1 (or padding beyond the flipped kernel's reach): per (image, group,
// input-channel chunk) task, col = W^T * dy in pixel chunks of bounded size, then col2im adds
// col into dx. Channel chunks own disjoint dx planes, so tasks never write the same element.
inline void ConvBackwardDataGemm(const Conv2dShape& s, const float* dy, const float* w,
                                 float* dx, ThreadPool& pool) {
  const detail::ConvGeom geo(s);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t NR = GemmNR(), KC = GemmKC(), MC = GemmMC();
  const bool parallel = detail::ConvParallel(s, pool);
  const size_t chunks = detail::UnitChunks(s, pool, parallel, geo.cg);
  // Pixel chunk: keeps the column buffer (rows x qc floats) near 256 KiB.
  const size_t max_rows = detail::DivCeil(geo.cg, chunks) * geo.rs;
  const size_t qc_max =
      std::min(detail::RoundUp(geo.p, NR),
               std::max(NR, (size_t{65536} / max_rows) / NR * NR));
  // A = W_g^T restricted to a chunk's rows: (rows x kg), packed per KC block of kg, once per
  // (group, channel chunk) for all images.
  const size_t apack_size = detail::RoundUp(max_rows, kGemmMR) * geo.kg;
  float* apack_all = ConvScratch(ConvSlot::kWeights, s.groups * chunks * apack_size);
  detail::RunTasks(pool, parallel && s.groups * chunks > 1, s.groups * chunks,
                   [&](uint64_t task, size_t) {
    const size_t g = task / chunks, chunk = task % chunks;
    const size_t c0 = geo.cg * chunk / chunks, c1 = geo.cg * (chunk + 1) / chunks;
    if (c1 <= c0) return;
    const size_t row0 = c0 * geo.rs, rows = (c1 - c0) * geo.rs;
    const size_t rrows = detail::RoundUp(rows, kGemmMR);
    const float* wg = w + g * geo.kg * geo.crs;
    for (size_t pc = 0; pc < geo.kg; pc += KC) {
      const size_t kc = std::min(KC, geo.kg - pc);
      PackA(true, wg + pc * geo.crs + row0, geo.crs, rows, kc, 1.0f,
            apack_all + task * apack_size + pc * rrows);
    }
  });
  detail::RunUnitChunks(s, pool, parallel, chunks, [&](size_t n, size_t g, size_t chunk) {
    const size_t c0 = geo.cg * chunk / chunks, c1 = geo.cg * (chunk + 1) / chunks;
    if (c1 <= c0) return;
    const size_t rows = (c1 - c0) * geo.rs;
    float* dxg = dx + (n * s.in_channels + g * geo.cg) * geo.hw;
    std::fill(dxg + c0 * geo.hw, dxg + c1 * geo.hw, 0.0f);
    const float* dyg = dy + (n * s.out_channels + g * geo.kg) * geo.p;
    const size_t rrows = detail::RoundUp(rows, kGemmMR);
    const float* apack = apack_all + (g * chunks + chunk) * apack_size;
    float* bpack = ConvScratch(ConvSlot::kPackB, KC * qc_max);
    // Slack before and after: the stride-2 col2im reads whole vectors around each row.
    const size_t col_slack = s.dilation_w * s.kernel_w + 2 * N;
    float* col = ConvScratch(ConvSlot::kColumns, rows * qc_max + 2 * col_slack) +
                 col_slack;
    for (size_t q0 = 0; q0 < geo.p; q0 += qc_max) {
      const size_t qc = std::min(qc_max, geo.p - q0);
      for (size_t pc = 0; pc < geo.kg; pc += KC) {
        const size_t kc = std::min(KC, geo.kg - pc);
        PackB(false, dyg + pc * geo.p + q0, geo.p, kc, qc, bpack);
        const TileEpilogue ep{pc == 0 ? 0.0f : 1.0f, nullptr, false};
        for (size_t ic = 0; ic < rows; ic += MC) {
          const size_t mc = std::min(MC, rows - ic);
          MacroKernel(mc, qc, kc, apack + pc * rrows + ic * kc, bpack, col + ic * qc, qc, ep);
        }
      }
      if (s.stride_w == 2) {
        Col2imStride2(s, geo, col, qc, q0, c0, c1, dxg);
        continue;
      }
      // col2im: scatter-add each column row into its input plane.
      for (size_t row = 0; row < rows; ++row) {
        const size_t crs = c0 * geo.rs + row;
        const size_t c = crs / geo.rs, r = (crs % geo.rs) / s.kernel_w, t = crs % s.kernel_w;
        float* HWY_RESTRICT plane = dxg + c * geo.hw;
        const float* HWY_RESTRICT src = col + row * qc;
        size_t oh = q0 / geo.ow, ow = q0 % geo.ow;
        for (size_t j = 0; j < qc;) {
          const size_t len = std::min(qc - j, geo.ow - ow);
          const long ih = static_cast<long>(oh * s.stride_h + r * s.dilation_h) -
                          static_cast<long>(s.pad_h);
          if (ih >= 0 && ih < static_cast<long>(s.in_h)) {
            float* HWY_RESTRICT drow = plane + ih * static_cast<long>(s.in_w);
            // Outputs i in [i_lo, i_hi) of this run land inside the row: iw = base + i * sw.
            const long sw = static_cast<long>(s.stride_w);
            const long base = static_cast<long>(ow * s.stride_w + t * s.dilation_w) -
                              static_cast<long>(s.pad_w);
            const long n = static_cast<long>(len), in_w = static_cast<long>(s.in_w);
            const long i_lo = std::min(n, base >= 0 ? 0L : (-base + sw - 1) / sw);
            const long i_hi = std::max(i_lo, std::min(n, (in_w - base + sw - 1) / sw));
            const float* HWY_RESTRICT srow = src + j;
            if (sw == 1) {
              long i = i_lo;
              for (; i + static_cast<long>(N) <= i_hi; i += static_cast<long>(N)) {
                hn::StoreU(hn::Add(hn::LoadU(d, drow + base + i), hn::LoadU(d, srow + i)), d,
                           drow + base + i);
              }
              for (; i < i_hi; ++i) drow[base + i] += srow[i];
            } else {
              for (long i = i_lo; i < i_hi; ++i) drow[base + i * sw] += srow[i];
            }
          }
          j += len;
          ow = 0;
          ++oh;
        }
      }
    }
  });
}

// Returns whether the im2col matrix of s is the image itself (1x1 kernel, stride 1, no
// padding), so that the weight gradient is a plain GEMM over the images' pixels.
inline bool ConvIsPlainPointwise(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
         s.pad_h == 0 && s.pad_w == 0;
}

// Accumulates dw for a 1x1 convolution with stride 1 and no padding: per group, dW_g (kg x cg)
// += sum_n dY_ng (kg x P) X_ng^T, one GEMM whose reduction runs over the pixels of all the
// task's images (blocks of whole small images, one segment each, or of equal slices of a
// large one), so that the tile of C is loaded and stored once per ~KC pixels, not once per
// image. Both operands are stored pixel-fastest: the one with more channels is the A operand
// read in place (rows of pixels, broadcast per step), the other is transposed into PackB
// strips (4x4 register transposes), which costs N floats per reduction step against M * N
// multiply-adds. C is dW_g itself when A = dy, else dW_g^T in scratch added at the end. Tasks
// are (group, image chunk) as in ConvBackwardWeightsIm2col, partials added in chunk order.
inline void ConvBackwardWeightsPointwise(const Conv2dShape& s, const float* x, const float* dy,
                                         float* dw, ThreadPool& pool, bool parallel) {
  const detail::ConvGeom geo(s);
  const size_t NR = GemmNR(), KC = GemmKC(), MC = GemmMC();
  const size_t P = geo.p;
  const bool a_is_dy = geo.kg >= geo.cg;
  const size_t M = a_is_dy ? geo.kg : geo.cg, NN = a_is_dy ? geo.cg : geo.kg;
  const size_t strips = detail::DivCeil(NN, NR);
  // Per operand: base, channels per image, channels per group.
  const float* a_base = a_is_dy ? dy : x;
  const float* b_base = a_is_dy ? x : dy;
  const size_t a_image = (a_is_dy ? s.out_channels : s.in_channels) * P;
  const size_t b_image = (a_is_dy ? s.in_channels : s.out_channels) * P;
  // Reduction blocks: up to KC / P whole images (one segment each), or a large image in equal
  // slices of at most KC pixels.
  const size_t images_per_block = P <= KC ? KC / P : 1;
  const size_t slices = P <= KC ? 1 : detail::DivCeil(P, KC);
  const size_t slice_len = detail::DivCeil(P, slices);
  const size_t seg_max = images_per_block * std::min(P, slice_len);
  const size_t threads = pool.NumThreads();
  const size_t img_chunks = WeightGradImageChunks(s, parallel, threads);
  const ChunkPartials partials(s, img_chunks, dw, nullptr);
  detail::RunTasks(pool, parallel, s.groups * img_chunks, [&](uint64_t task, size_t) {
    const size_t ichunk = task % img_chunks, g = task / img_chunks;
    const size_t n0 = s.batch * ichunk / img_chunks, n1 = s.batch * (ichunk + 1) / img_chunks;
    if (n1 <= n0) return;
    float* target = partials.Weights(ichunk) + g * geo.kg * geo.cg;
    // C: dW_g (kg x cg) in place, or dW_g^T (cg x kg) in zeroed scratch.
    float* c = target;
    size_t ldc = geo.cg;
    if (!a_is_dy) {
      c = ConvScratch(ConvSlot::kAcc, geo.cg * geo.kg);
      std::fill(c, c + geo.cg * geo.kg, 0.0f);
      ldc = geo.kg;
    }
    float* bpack = ConvScratch(ConvSlot::kPackB, strips * NR * seg_max);
    const TileEpilogue ep{1.0f, nullptr, false};
    const float* a_group = a_base + g * M * P;
    const float* b_group = b_base + g * NN * P;
    for (size_t n = n0; n < n1; n += images_per_block) {
      const size_t nseg = std::min(images_per_block, n1 - n);
      for (size_t p0 = 0; p0 < P; p0 += slice_len) {
        const size_t kc = std::min(slice_len, P - p0);
        const size_t steps = nseg * kc;
        // B: strip js holds `steps` rows of NR channels (zeros past NN), segment by segment.
        for (size_t js = 0; js < strips; ++js) {
          const size_t j0 = js * NR, cols = std::min(NR, NN - j0);
          for (size_t sg = 0; sg < nseg; ++sg) {
            TransposeBlock(b_group + (n + sg) * b_image + j0 * P + p0, P, cols, kc,
                           bpack + js * NR * steps + sg * kc * NR, NR);
          }
        }
        // A: rows of the first image's block, read in place, segments one image apart. Per
        // block of MC rows, each B strip (in L1) meets every row tile in turn.
        const float* a_block = a_group + n * a_image + p0;
        for (size_t ic = 0; ic < M; ic += MC) {
          const size_t mc = std::min(MC, M - ic);
          for (size_t js = 0; js < NN; js += NR) {
            const size_t cols = std::min(NR, NN - js);
            for (size_t is = ic; is < ic + mc; is += kGemmMR) {
              const size_t rows = std::min(kGemmMR, ic + mc - is);
              InPlaceRowsA arows{{}, a_image, 0};
              for (size_t r = 0; r < kGemmMR; ++r) {
                arows.rows[r] = a_block + (is + (r < rows ? r : 0)) * P;
              }
              MicroKernelRows<kGemmMR, true>(nseg, kc, arows, PackedB{bpack + js * steps},
                                             c + is * ldc + js, ldc, rows, cols, ep);
            }
          }
        }
      }
    }
    if (!a_is_dy) {
      // target += c^T in 16 x 16 blocks: both sides stay in L1 (c is up to MiBs, and a plain
      // loop down its columns missed the cache on every element: 2048 -> 512 on 7x7 lost 25%).
      constexpr size_t kBlock = 16;
      for (size_t k0 = 0; k0 < geo.kg; k0 += kBlock) {
        const size_t k1 = std::min(geo.kg, k0 + kBlock);
        for (size_t c0 = 0; c0 < geo.cg; c0 += kBlock) {
          const size_t c1 = std::min(geo.cg, c0 + kBlock);
          for (size_t k = k0; k < k1; ++k) {
            float* HWY_RESTRICT trow = target + k * geo.cg;
            for (size_t ch = c0; ch < c1; ++ch) trow[ch] += c[ch * geo.kg + k];
          }
        }
      }
    }
  });
  partials.AddToOutputs(pool);
}

// Accumulates dw: per group, dW_g += sum_n dY_ng (kg x P) * im2col(x_ng)^T (P x crs), the
// transposed im2col packed with masked gathers. Tasks own column slices of dW; when there are
// fewer slices than threads the batch is also split into one chunk per thread whose partial
// sums are added in chunk order (fixed for a fixed thread count).
inline void ConvBackwardWeightsIm2col(const Conv2dShape& s, const float* x, const float* dy,
                                      float* dw, ThreadPool& pool, bool parallel) {
  if (ConvIsPlainPointwise(s)) {
    ConvBackwardWeightsPointwise(s, x, dy, dw, pool, parallel);
    return;
  }
  const detail::ConvGeom geo(s);
  const size_t NR = GemmNR(), KC = GemmKC(), NC = ConvNC();
  const size_t threads = pool.NumThreads();
  const size_t strips = detail::DivCeil(geo.crs, NR);
  size_t col_chunks = 1, img_chunks = 1;
  if (parallel) {
    col_chunks = std::min(strips, detail::DivCeil(2 * threads, s.groups));
    if (s.groups * col_chunks < 2 * threads) img_chunks = std::min(s.batch, threads);
  }
  const ChunkPartials partials(s, img_chunks, dw, nullptr);
  const size_t rkg = detail::RoundUp(geo.kg, kGemmMR);
  detail::RunTasks(
      pool, parallel, s.groups * col_chunks * img_chunks, [&](uint64_t task, size_t) {
        const size_t ichunk = task % img_chunks;
        const size_t cchunk = (task / img_chunks) % col_chunks;
        const size_t g = task / (img_chunks * col_chunks);
        const size_t j0 = std::min(geo.crs, strips * cchunk / col_chunks * NR);
        const size_t j1 = std::min(geo.crs, strips * (cchunk + 1) / col_chunks * NR);
        const size_t n0 = s.batch * ichunk / img_chunks;
        const size_t n1 = s.batch * (ichunk + 1) / img_chunks;
        if (j1 <= j0 || n1 <= n0) return;
        float* target = partials.Weights(ichunk) + g * geo.kg * geo.crs;
        float* apack = ConvScratch(ConvSlot::kPackA, rkg * KC);
        float* bpack = ConvScratch(ConvSlot::kPackB, KC * detail::RoundUp(NC, NR));
        const TileEpilogue ep{1.0f, nullptr, false};
        for (size_t n = n0; n < n1; ++n) {
          const float* xg = x + (n * s.in_channels + g * geo.cg) * geo.hw;
          const float* dyg = dy + (n * s.out_channels + g * geo.kg) * geo.p;
          for (size_t pq = 0; pq < geo.p; pq += KC) {
            const size_t kc = std::min(KC, geo.p - pq);
            PackA(false, dyg + pq, geo.p, geo.kg, kc, 1.0f, apack);
            for (size_t jc = j0; jc < j1; jc += NC) {
              const size_t nc = std::min(NC, j1 - jc);
              PackIm2colTransposed(s, geo, xg, pq, kc, jc, nc, bpack);
              MacroKernel(geo.kg, nc, kc, apack, bpack, target + jc, geo.crs, ep);
            }
          }
        }
      });
  partials.AddToOutputs(pool);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV_GEMM_TOGGLE
