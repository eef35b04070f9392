// Per-target convolution kernels built on the SGEMM micro-kernel (gemm-inl.h): direct
// convolution on a padded, stride-phase-split image copy, Winograd F(2x2,3x3), implicit GEMM
// with im2col fused into the B packing (no whole-batch im2col buffer anywhere), backward-data
// as a flipped-weight forward convolution or GEMM + col2im in bounded chunks, and
// backward-weights as an in-place transposed GEMM or an im2col-transposed GEMM.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV2D_KERNELS_INL_H_
#define SIMDNET_LAYERS_CONV2D_KERNELS_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "layers/conv2d_kernels.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace detail {

// Derived sizes of one convolution (per group unless noted).
struct ConvGeom {
  explicit ConvGeom(const Conv2dShape& s)
      : cg(s.in_channels / s.groups),
        kg(s.out_channels / s.groups),
        rs(s.kernel_h * s.kernel_w),
        crs(cg * rs),
        oh(s.out_h()),
        ow(s.out_w()),
        p(oh * ow),
        hw(s.in_h * s.in_w) {}
  size_t cg, kg, rs, crs, oh, ow, p, hw;
};

// Runs fn(task, thread) for tasks in [0, num_tasks), on the pool when `parallel`.
inline void RunTasks(ThreadPool& pool, bool parallel, uint64_t num_tasks,
                     const std::function<void(uint64_t, size_t)>& fn) {
  if (parallel) {
    pool.ParallelFor(num_tasks, fn);
  } else {
    for (uint64_t t = 0; t < num_tasks; ++t) fn(t, 0);
  }
}

}  // namespace detail
}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV2D_KERNELS_INL_H_

#if defined(SIMDNET_LAYERS_CONV2D_KERNELS_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV2D_KERNELS_TOGGLE
#undef SIMDNET_LAYERS_CONV2D_KERNELS_TOGGLE
#else
#define SIMDNET_LAYERS_CONV2D_KERNELS_TOGGLE
#endif

#include "hwy/highway.h"
#include "tensor/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// dst[0, n) = src[0, n) with whole vectors and a scalar tail (never reads past src + n). The
// rows copied here are 1-2 cache lines, where a memcpy call costs as much as the copy.
HWY_INLINE void CopyRow(const float* HWY_RESTRICT src, size_t n, float* HWY_RESTRICT dst) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  for (; i < n; ++i) dst[i] = src[i];
}

// dst[0, n) = src[0, n) with whole vectors and a masked store for the tail, which reads a
// whole vector: for sources with at least a vector of slack past n (scratch buffers).
HWY_INLINE void CopyRowPadded(const float* HWY_RESTRICT src, size_t n, float* HWY_RESTRICT dst) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  if (i < n) hn::BlendedStore(hn::LoadU(d, src + i), hn::FirstN(d, n - i), d, dst + i);
}

// Columns (output pixels or weight columns) per packed B panel of the convolution GEMMs:
// KC x NC floats (<= 256 KiB) stay in L2 while the A block streams over them.
HWY_INLINE size_t ConvNC() { return GemmKC() >= 256 ? 256 : 512; }

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
  float* wpack = detail::ThreadScratch(detail::kScratchConvW, s.groups * rkg * geo.crs);
  for (size_t g = 0; g < s.groups; ++g) {
    for (size_t pc = 0; pc < geo.crs; pc += KC) {
      const size_t kc = std::min(KC, geo.crs - pc);
      PackA(false, w + g * geo.kg * geo.crs + pc, geo.crs, geo.kg, kc, 1.0f,
            wpack + g * rkg * geo.crs + pc * rkg);
    }
  }
  const bool direct_b = s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 &&
                        s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0;
  const size_t threads = pool.NumThreads();
  const bool parallel = threads > 1 && s.batch * s.out_channels * geo.p * geo.crs >=
                                           detail::kMinParallelMacs;
  const size_t units = s.batch * s.groups;
  const size_t strips = detail::DivCeil(geo.p, NR);
  size_t chunks = 1;
  if (parallel && units < 2 * threads) {
    chunks = std::min(strips, detail::DivCeil(2 * threads, units));
  }
  detail::RunTasks(pool, parallel, units * chunks, [&](uint64_t task, size_t) {
    const size_t unit = task / chunks, chunk = task % chunks;
    const size_t n = unit / s.groups, g = unit % s.groups;
    const size_t q0 = std::min(geo.p, strips * chunk / chunks * NR);
    const size_t q1 = std::min(geo.p, strips * (chunk + 1) / chunks * NR);
    const float* xg = x + (n * s.in_channels + g * geo.cg) * geo.hw;
    float* yg = y + (n * s.out_channels + g * geo.kg) * geo.p;
    const float* wg = wpack + g * rkg * geo.crs;
    const float* bg = bias != nullptr ? bias + g * geo.kg : nullptr;
    float* bpack = detail::ThreadScratch(detail::kScratchPackB, KC * detail::RoundUp(NC, NR));
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

// Direct micro-kernel (no packed B): computes the kRows x NR tile
// sum_p A(row, p) * base[off[p] + j] (A in PackA layout over all kc = crs rows of the weights,
// base = zero-padded image at the tile's first virtual pixel) and stores it to `tile`
// (kRows x NR floats, aligned). B is read straight from the padded image: no packing at all.
// If c is non-null, the first rows x cols entries go to c (row stride ldc) with `ep` instead.
// The tile's second vector reads base + b1_off + off[p] (b1_off = N: NR consecutive pixels).
template <size_t kRows>
HWY_INLINE void DirectMicroKernel(size_t kc, const float* HWY_RESTRICT ap,
                                  const float* HWY_RESTRICT base,
                                  const int32_t* HWY_RESTRICT off, size_t b1_off,
                                  float* HWY_RESTRICT tile,
                                  float* HWY_RESTRICT c, size_t ldc, size_t rows, size_t cols,
                                  const TileEpilogue& ep) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  V acc0[kRows], acc1[kRows];
  HWY_UNROLL(16)
  for (size_t r = 0; r < kRows; ++r) {
    acc0[r] = hn::Zero(d);
    acc1[r] = hn::Zero(d);
  }
  for (size_t p = 0; p < kc; ++p) {
    const float* HWY_RESTRICT bp = base + off[p];
    const V b0 = hn::LoadU(d, bp);
    const V b1 = hn::LoadU(d, bp + b1_off);
    HWY_UNROLL(16)
    for (size_t r = 0; r < kRows; ++r) {
      const V a = hn::Set(d, ap[r]);
      acc0[r] = hn::MulAdd(a, b0, acc0[r]);
      acc1[r] = hn::MulAdd(a, b1, acc1[r]);
    }
    ap += kRows;
  }
  if (c != nullptr) {
    HWY_UNROLL(16)
    for (size_t r = 0; r < kRows; ++r) {
      if (r < rows) StoreTileRow(d, acc0[r], acc1[r], c + r * ldc, cols, ep, r);
    }
    return;
  }
  HWY_UNROLL(16)
  for (size_t r = 0; r < kRows; ++r) {
    hn::Store(acc0[r], d, tile + r * 2 * N);
    hn::Store(acc1[r], d, tile + r * 2 * N + N);
  }
}

// Zero-padded, stride-phased copy of an image, the B operand of the direct convolutions.
// The padded plane (hp, wp) is split into stride_h * stride_w phase planes of (hq, wq) =
// (ceil(hp / stride_h), ceil(wp / stride_w)): phase (a, b) holds padded pixels
// (i * stride_h + a, j * stride_w + b). Output pixel (oh, ow) is then "virtual pixel"
// q = oh * wq + ow, and its tap (c, r, t) sits at q + Offset(c, r, t) for every output, so a
// run of consecutive virtual pixels is a contiguous run of memory for any stride. Stride 1 is
// the plain padded image.
struct PhasedLayout {
  explicit PhasedLayout(const Conv2dShape& s)
      : hp(s.in_h + 2 * s.pad_h),
        wp(s.in_w + 2 * s.pad_w),
        hq(detail::DivCeil(hp, s.stride_h)),
        wq(detail::DivCeil(wp, s.stride_w)),
        plane_size(s.stride_h * s.stride_w * hq * wq),
        channel_size(ChannelStride(plane_size)),
        nv((s.out_h() - 1) * wq + s.out_w()) {}
  size_t hp, wp, hq, wq;
  size_t plane_size;    // floats of one channel's phase planes
  size_t channel_size;  // floats from one channel to the next (plane_size + zero gap)
  size_t nv;            // virtual pixels covering every output

  // The kernels read one vector per tap from channels channel_size apart; with a power-of-two
  // stride (16x16 padded = 1 KiB, 32x32 = 4 KiB) those lines all map to a few L1 sets and evict
  // each other. An odd number of cache lines between channels spreads them over every set.
  static size_t ChannelStride(size_t plane) {
    if (plane < 64) return plane;
    const size_t lines = detail::DivCeil(plane, 16);
    return 16 * (lines | 1);
  }

  // Returns the offset of tap (c, r, t) (crs order) relative to the virtual pixel.
  std::vector<int32_t> Offsets(const Conv2dShape& s, const detail::ConvGeom& geo) const {
    std::vector<int32_t> off(geo.crs);
    for (size_t crs = 0; crs < geo.crs; ++crs) {
      const size_t c = crs / geo.rs, r = (crs % geo.rs) / s.kernel_w, t = crs % s.kernel_w;
      const size_t dr = r * s.dilation_h, dt = t * s.dilation_w;
      const size_t phase = (dr % s.stride_h) * s.stride_w + dt % s.stride_w;
      off[crs] = static_cast<int32_t>(c * channel_size + phase * hq * wq +
                                      (dr / s.stride_h) * wq + dt / s.stride_w);
    }
    return off;
  }

  // Fill for stride_w == 2: both column phases of each row from one pass of interleaved loads
  // (even and odd input columns go to the two phase planes).
  void FillStride2Columns(const Conv2dShape& s, const float* HWY_RESTRICT xc,
                          float* HWY_RESTRICT out) const {
    const GemmD d;
    const size_t N = hn::Lanes(d);
    const long in_h = static_cast<long>(s.in_h), in_w = static_cast<long>(s.in_w);
    const size_t pw = s.pad_w;
    for (size_t a = 0; a < s.stride_h; ++a) {
      for (size_t i = 0; i < hq; ++i) {
        float* HWY_RESTRICT rows[2] = {out + (a * 2) * hq * wq + i * wq,
                                       out + (a * 2 + 1) * hq * wq + i * wq};
        const long ih = static_cast<long>(i * s.stride_h + a) - static_cast<long>(s.pad_h);
        if (ih < 0 || ih >= in_h) {
          std::fill(rows[0], rows[0] + wq, 0.0f);
          std::fill(rows[1], rows[1] + wq, 0.0f);
          continue;
        }
        // Padded column q = input column + pw goes to phase q % 2, index q / 2.
        for (size_t b = 0; b < 2; ++b) {
          const size_t j_lo = std::min(wq, pw >= b ? (pw - b + 1) / 2 : 0);
          const size_t j_hi = std::max(j_lo, std::min(wq, (pw + in_w - b + 1) / 2));
          std::fill(rows[b], rows[b] + j_lo, 0.0f);
          std::fill(rows[b] + j_hi, rows[b] + wq, 0.0f);
        }
        const float* HWY_RESTRICT xrow = xc + ih * in_w;
        size_t col = 0;
        for (; col + 2 * N <= static_cast<size_t>(in_w); col += 2 * N) {
          hn::Vec<GemmD> even, odd;
          hn::LoadInterleaved2(d, xrow + col, even, odd);
          hn::StoreU(even, d, rows[pw % 2] + (col + pw) / 2);
          hn::StoreU(odd, d, rows[(pw + 1) % 2] + (col + pw + 1) / 2);
        }
        for (; col < static_cast<size_t>(in_w); ++col) {
          rows[(col + pw) % 2][(col + pw) / 2] = xrow[col];
        }
      }
    }
  }

  // Writes channels [0, channels) of x (planes in_h x in_w) in this layout to out, followed by
  // `slack` zeros.
  void Fill(const Conv2dShape& s, const float* HWY_RESTRICT x, size_t channels, size_t slack,
            float* HWY_RESTRICT out) const {
    const long in_h = static_cast<long>(s.in_h), in_w = static_cast<long>(s.in_w);
    for (size_t c = 0; c < channels; ++c) {
      const float* HWY_RESTRICT xc = x + c * s.in_h * s.in_w;
      if (s.stride_w == 2) {
        FillStride2Columns(s, xc, out + c * channel_size);
      } else {
        for (size_t a = 0; a < s.stride_h; ++a) {
          for (size_t b = 0; b < s.stride_w; ++b) {
          float* HWY_RESTRICT o = out + c * channel_size + (a * s.stride_w + b) * hq * wq;
          // Columns j of this phase that map inside the image: j*sw + b - pw in [0, in_w).
          const long sw = static_cast<long>(s.stride_w);
          const long first = static_cast<long>(s.pad_w) - static_cast<long>(b);
          const long j_lo = std::min(static_cast<long>(wq), std::max(0L, (first + sw - 1) / sw));
          const long j_hi = std::max(
              j_lo, std::min(static_cast<long>(wq), (first + in_w + sw - 1) / sw));
          for (size_t i = 0; i < hq; ++i) {
            float* HWY_RESTRICT row = o + i * wq;
            const long ih = static_cast<long>(i * s.stride_h + a) - static_cast<long>(s.pad_h);
            if (ih < 0 || ih >= in_h) {
              std::fill(row, row + wq, 0.0f);
              continue;
            }
            const float* HWY_RESTRICT xrow = xc + ih * in_w;
            std::fill(row, row + j_lo, 0.0f);
            if (sw == 1) {
              CopyRow(xrow + (j_lo - first), j_hi - j_lo, row + j_lo);
            } else {
              for (long j = j_lo; j < j_hi; ++j) row[j] = xrow[j * sw - first];
            }
            std::fill(row + j_hi, row + wq, 0.0f);
          }
        }
      }
      }
      // The gap up to the next channel is read by the virtual pixels past a plane's end.
      std::fill(out + c * channel_size + plane_size, out + (c + 1) * channel_size, 0.0f);
    }
    std::fill(out + channels * channel_size, out + channels * channel_size + slack, 0.0f);
  }
};

// Dense layout for stride 1: per (input channel c, kernel column t), the zero-padded image
// (a PhasedLayout copy) shifted left by t * dilation_w and cropped to out_w columns, hp rows of
// out_w floats. Tap (c, r, t) of output pixel p = oh * out_w + ow is then at
// Offsets()[crs] + p: a run of consecutive output pixels is contiguous even across rows, so
// every lane of a vector carries an output.
struct DenseShifted {
  DenseShifted(const Conv2dShape& s, const PhasedLayout& layout)
      : plane(layout.hp * s.out_w()), floats(s.in_channels / s.groups * s.kernel_w * plane) {}
  size_t plane;   // floats per (c, t) copy
  size_t floats;  // floats of all copies of one image and group (allocate + N: slack)

  std::vector<int32_t> Offsets(const Conv2dShape& s, const detail::ConvGeom& geo) const {
    std::vector<int32_t> off(geo.crs);
    for (size_t crs = 0; crs < geo.crs; ++crs) {
      const size_t c = crs / geo.rs, r = (crs % geo.rs) / s.kernel_w, t = crs % s.kernel_w;
      off[crs] = static_cast<int32_t>((c * s.kernel_w + t) * plane + r * s.dilation_h * geo.ow);
    }
    return off;
  }

  // Writes the copies from xpad (PhasedLayout of cg channels with slack >= N) to out.
  void Build(const Conv2dShape& s, const detail::ConvGeom& geo, const PhasedLayout& layout,
             const float* HWY_RESTRICT xpad, float* HWY_RESTRICT out) const {
    const GemmD d;
    const size_t N = hn::Lanes(d);
    for (size_t c = 0; c < geo.cg; ++c) {
      for (size_t t = 0; t < s.kernel_w; ++t) {
        const float* HWY_RESTRICT src = xpad + c * layout.channel_size + t * s.dilation_w;
        float* HWY_RESTRICT dst = out + (c * s.kernel_w + t) * plane;
        // Whole vectors: the overrun is overwritten by the next row or lands in the slack.
        for (size_t row = 0; row < layout.hp; ++row) {
          for (size_t i = 0; i < geo.ow; i += N) {
            hn::StoreU(hn::LoadU(d, src + row * layout.wq + i), d, dst + row * geo.ow + i);
          }
        }
      }
    }
  }
};

// Computes y = act(conv(x, w) + bias) (any stride, padding, dilation, groups) directly
// from a PhasedLayout copy of each image (zero-padded, split by stride phase): output pixel
// (oh, ow) is virtual pixel q = oh * wq + ow, so tap (c, r, t) of a run of consecutive virtual
// pixels is a contiguous run of memory at a fixed offset. Virtual pixels with ow >= out_w (a
// (wq - out_w) / wq fraction) are computed and discarded. Tasks are
// (image, group, virtual-pixel chunk); weights are packed once per call.
inline void ConvForwardDirect(const Conv2dShape& s, const float* x, const float* w,
                              const float* bias, float* y, bool relu, ThreadPool& pool) {
  const detail::ConvGeom geo(s);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t NR = GemmNR();
  const PhasedLayout layout(s);
  const size_t wp = layout.wq;  // width of the virtual pixel grid
  const size_t rkg = detail::RoundUp(geo.kg, kGemmMR);
  float* wpack = detail::ThreadScratch(detail::kScratchConvW, s.groups * rkg * geo.crs);
  for (size_t g = 0; g < s.groups; ++g) {
    PackA(false, w + g * geo.kg * geo.crs, geo.crs, geo.kg, geo.crs, 1.0f,
          wpack + g * rkg * geo.crs);
  }
  const std::vector<int32_t> off = layout.Offsets(s, geo);
  // Virtual pixels [0, nv) cover every output; blocks of NR may read up to NR - 1 past the
  // last plane, hence the slack.
  const size_t nv = layout.nv;
  size_t blocks = detail::DivCeil(nv, NR);
  const size_t slack = 2 * NR + wp;
  // Row mode: blocks of up to NR pixels inside one output row, written straight from the
  // registers (no garbage columns, no scatter); chosen when it uses no more lanes than blocks
  // over the virtual grid (rows of >= NR outputs, e.g. 32x32 images on AVX-512).
  const size_t row_blocks = detail::DivCeil(geo.ow, NR);
  // Dense mode (stride 1, padded grid wider than the output): blocks of NR consecutive outputs
  // read from the DenseShifted copies (one per input channel and kernel column), stored from
  // registers; chosen unless row mode fills every lane too (e.g. 28 wide on AVX-512: row mode
  // uses 28 of 32 lanes, dense mode 784 of 800).
  const size_t row_lanes = geo.oh * row_blocks * NR;
  const bool dense_mode = s.stride_h == 1 && s.stride_w == 1 && wp != geo.ow &&
                          detail::RoundUp(geo.p, NR) < row_lanes;
  const bool row_mode = !dense_mode && row_lanes <= detail::RoundUp(nv, NR);
  if (row_mode) blocks = geo.oh * row_blocks;
  // Flat mode: the virtual grid has no garbage columns (wq == out_w, e.g. 1x1 without
  // padding), so every block is a contiguous run of outputs, also stored from registers.
  const bool flat_mode = !row_mode && !dense_mode && wp == geo.ow;
  const DenseShifted shifted(s, layout);
  const std::vector<int32_t> dense_off =
      dense_mode ? shifted.Offsets(s, geo) : std::vector<int32_t>();
  if (dense_mode) blocks = detail::DivCeil(geo.p, NR);
  // Pair mode: rows of exactly N outputs (e.g. 16x16 outputs on AVX-512), one row per vector
  // of the tile: two output rows per block, contiguous in y, no garbage columns.
  const bool pair_mode = !row_mode && !flat_mode && !dense_mode && geo.ow == N &&
                         detail::RoundUp(geo.oh, 2) * N <= detail::RoundUp(nv, NR);
  if (pair_mode) blocks = detail::DivCeil(geo.oh, 2);
  // Virtual mode: runs of real output pixels inside each block (offset in the tile row, offset
  // in the output plane, length), computed once per call instead of per tile.
  struct Segment {
    uint32_t tile_off, dst_off, len;
  };
  std::vector<Segment> segs;
  const bool scatter_mode = !row_mode && !flat_mode && !pair_mode && !dense_mode;
  std::vector<size_t> seg_begin(scatter_mode ? blocks + 1 : 1);
  for (size_t blk = 0; scatter_mode && blk < blocks; ++blk) {
    seg_begin[blk] = segs.size();
    const size_t q0 = blk * NR, qend = std::min(nv, q0 + NR);
    for (size_t q = q0; q < qend;) {
      const size_t oh = q / wp, ow = q % wp;
      if (ow >= geo.ow) {
        q += wp - ow;
        continue;
      }
      const size_t len = std::min(qend - q, geo.ow - ow);
      segs.push_back({static_cast<uint32_t>(q - q0), static_cast<uint32_t>(oh * geo.ow + ow),
                      static_cast<uint32_t>(len)});
      q += len;
    }
  }
  if (scatter_mode) seg_begin[blocks] = segs.size();
  const size_t threads = pool.NumThreads();
  const bool parallel = threads > 1 && s.batch * s.out_channels * geo.p * geo.crs >=
                                           detail::kMinParallelMacs;
  const size_t units = s.batch * s.groups;
  size_t chunks = 1;
  if (parallel && units < 2 * threads) {
    chunks = std::min(blocks, detail::DivCeil(2 * threads, units));
  }
  detail::RunTasks(pool, parallel, units * chunks, [&](uint64_t task, size_t) {
    const size_t unit = task / chunks, chunk = task % chunks;
    const size_t n = unit / s.groups, g = unit % s.groups;
    const size_t b0 = blocks * chunk / chunks, b1 = blocks * (chunk + 1) / chunks;
    if (b1 <= b0) return;
    float* xpad =
        detail::ThreadScratch(detail::kScratchPackB, geo.cg * layout.channel_size + slack);
    layout.Fill(s, x + (n * s.in_channels + g * geo.cg) * geo.hw, geo.cg, slack, xpad);
    float* xs = nullptr;
    if (dense_mode) {
      xs = detail::ThreadScratch(detail::kScratchPackA, shifted.floats + 2 * NR);
      shifted.Build(s, geo, layout, xpad, xs);
      std::fill(xs + shifted.floats, xs + shifted.floats + 2 * NR, 0.0f);
    }
    float* yg = y + (n * s.out_channels + g * geo.kg) * geo.p;
    const float* wg = wpack + g * rkg * geo.crs;
    const float* bg = bias != nullptr ? bias + g * geo.kg : nullptr;
    // One spare row: the scatter loads a whole vector for a segment's masked tail, which may
    // extend past the last row's valid columns.
    HWY_ALIGN float tile[(kGemmMR + 1) * 2 * hn::MaxLanes(GemmD())];
    // Weights strip outer: its MR x crs floats stay in L2 while the pixel blocks stream by.
    for (size_t is = 0; is < geo.kg; is += kGemmMR) {
      const size_t rows = std::min(kGemmMR, geo.kg - is);
      // Epilogue of the modes that store straight from the registers.
      const TileEpilogue ep{0.0f, bg != nullptr ? bg + is : nullptr, relu};
      for (size_t blk = b0; blk < b1; ++blk) {
        if (row_mode) {
          const size_t oh = blk / row_blocks, ow0 = (blk % row_blocks) * NR;
          DirectMicroKernel<kGemmMR>(geo.crs, wg + is * geo.crs, xpad + oh * wp + ow0,
                                     off.data(), N, tile, yg + is * geo.p + oh * geo.ow + ow0,
                                     geo.p, rows, std::min(NR, geo.ow - ow0), ep);
          continue;
        }
        if (pair_mode) {
          const size_t oh = 2 * blk;
          DirectMicroKernel<kGemmMR>(geo.crs, wg + is * geo.crs, xpad + oh * wp, off.data(), wp,
                                     tile, yg + is * geo.p + oh * N, geo.p, rows,
                                     oh + 1 < geo.oh ? NR : N, ep);
          continue;
        }
        const size_t q0 = blk * NR;
        if (dense_mode || flat_mode) {  // NR consecutive outputs, from the copies or in place
          DirectMicroKernel<kGemmMR>(geo.crs, wg + is * geo.crs, (dense_mode ? xs : xpad) + q0,
                                     dense_mode ? dense_off.data() : off.data(), N, tile,
                                     yg + is * geo.p + q0, geo.p, rows,
                                     std::min(NR, geo.p - q0), ep);
          continue;
        }
        DirectMicroKernel<kGemmMR>(geo.crs, wg + is * geo.crs, xpad + q0, off.data(), N, tile,
                                   nullptr, 0, 0, 0, TileEpilogue{0.0f, nullptr, false});
        // Scatter the virtual pixels that are real outputs, with bias and ReLU.
        for (size_t r = 0; r < rows; ++r) {
          const auto vb = hn::Set(d, bg != nullptr ? bg[is + r] : 0.0f);
          float* HWY_RESTRICT yrow = yg + (is + r) * geo.p;
          const float* HWY_RESTRICT trow = tile + r * NR;
          for (size_t i = seg_begin[blk]; i < seg_begin[blk + 1]; ++i) {
            const Segment& sg = segs[i];
            const float* HWY_RESTRICT src = trow + sg.tile_off;
            float* HWY_RESTRICT dst = yrow + sg.dst_off;
            size_t j = 0;
            for (; j + N <= sg.len; j += N) {
              auto v = hn::Add(hn::LoadU(d, src + j), vb);
              if (relu) v = hn::Max(v, hn::Zero(d));
              hn::StoreU(v, d, dst + j);
            }
            if (j < sg.len) {
              auto v = hn::Add(hn::LoadU(d, src + j), vb);
              if (relu) v = hn::Max(v, hn::Zero(d));
              hn::BlendedStore(v, hn::FirstN(d, sg.len - j), d, dst + j);
            }
          }
        }
      }
    }
  });
}

// Winograd transforms for 3x3 kernels, 2x2 output tiles, per dimension (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", CVPR 2016). kStride 1 is F(2, 3): 4-pixel
// input patches every 2 pixels, 4 transform points. kStride 2 covers the stride-2 convolution
// y0 = w0 x0 + w1 x1 + w2 x2, y1 = w0 x2 + w1 x3 + w2 x4 with 5-pixel patches every 4 pixels:
// the even taps (w0, w2 on x0, x2, x4) are F(2, 2) (3 points) and the odd tap w1 is multiplied
// directly (2 points), 5 points for 6 multiplies. In 2D a tile costs kPoints multiplies instead
// of 36 (stride 1: 2.25x fewer, stride 2: 1.44x fewer). The stride-2 transforms only add and
// subtract, so they round less than F(2, 3)'s halvings.
template <size_t kStride>
struct Winograd {
  static_assert(kStride == 1 || kStride == 2, "F(2, 3) at stride 1 or 2");
  static constexpr size_t kP = kStride == 1 ? 4 : 5;  // patch side = points per dimension
  static constexpr size_t kStep = 2 * kStride;        // input pixels from one tile to the next
  static constexpr size_t kPoints = kP * kP;

  // Input transform B^T d of one patch row or column.
  template <class V>
  static HWY_INLINE void Input(const V* d, V* o) {
    if constexpr (kStride == 1) {  // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
      o[0] = hn::Sub(d[0], d[2]);
      o[1] = hn::Add(d[1], d[2]);
      o[2] = hn::Sub(d[2], d[1]);
      o[3] = hn::Sub(d[1], d[3]);
    } else {  // [x0 - x2, x2, x4 - x2, x1, x3]
      o[0] = hn::Sub(d[0], d[2]);
      o[1] = d[2];
      o[2] = hn::Sub(d[4], d[2]);
      o[3] = d[1];
      o[4] = d[3];
    }
  }
  // Output transform A^T m: the two outputs from the kP points.
  template <class V>
  static HWY_INLINE void Output(const V* m, V* y) {
    if constexpr (kStride == 1) {  // A^T = [1 1 1 0; 0 1 -1 -1]
      y[0] = hn::Add(hn::Add(m[0], m[1]), m[2]);
      y[1] = hn::Sub(hn::Sub(m[1], m[2]), m[3]);
    } else {  // A^T = [1 1 0 1 0; 0 1 1 0 1]
      y[0] = hn::Add(hn::Add(m[0], m[1]), m[3]);
      y[1] = hn::Add(hn::Add(m[1], m[2]), m[4]);
    }
  }
  // Adjoint of Output, A y: the kP points of an output gradient pair.
  template <class V>
  static HWY_INLINE void OutputAdjoint(V y0, V y1, V* m) {
    if constexpr (kStride == 1) {
      m[0] = y0;
      m[1] = hn::Add(y0, y1);
      m[2] = hn::Sub(y0, y1);
      m[3] = hn::Neg(y1);
    } else {
      m[0] = y0;
      m[1] = hn::Add(y0, y1);
      m[2] = y1;
      m[3] = y0;
      m[4] = y1;
    }
  }
  // A Y A^T of N tiles' 2x2 output gradients (a b; c e): stores point xi = i * kP + l at
  // dst + xi * stride.
  template <class D, class V>
  static HWY_INLINE void OutputAdjoint2D(D d, V a, V b, V c, V e, float* HWY_RESTRICT dst,
                                         size_t stride) {
    V left[kP], right[kP];  // the rows of A Y (left column a, c; right column b, e)
    OutputAdjoint(a, c, left);
    OutputAdjoint(b, e, right);
    HWY_UNROLL(5)
    for (size_t i = 0; i < kP; ++i) {
      V m[kP];
      OutputAdjoint(left[i], right[i], m);
      HWY_UNROLL(5)
      for (size_t l = 0; l < kP; ++l) hn::StoreU(m[l], d, dst + (i * kP + l) * stride);
    }
  }
  // Adjoint of Input, B e: a patch row or column of the input gradient (stride 2 only; stride
  // 1's backward-data runs as a forward convolution).
  template <class V>
  static HWY_INLINE void InputAdjoint(const V* e, V* dx) {
    static_assert(kStride == 2, "stride 1 uses the flipped forward");
    dx[0] = e[0];
    dx[1] = e[3];
    dx[2] = hn::Sub(hn::Sub(e[1], e[0]), e[2]);
    dx[3] = e[4];
    dx[4] = e[2];
  }
  // Weight transform G g of one kernel row or column.
  static void Weight(const float* g, size_t stride, float* u) {
    const float g0 = g[0], g1 = g[stride], g2 = g[2 * stride];
    if constexpr (kStride == 1) {  // G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
      u[0] = g0;
      u[1] = 0.5f * (g0 + g1 + g2);
      u[2] = 0.5f * (g0 - g1 + g2);
      u[3] = g2;
    } else {  // G = [1 0 0; 1 0 1; 0 0 1; 0 1 0; 0 1 0]
      u[0] = g0;
      u[1] = g0 + g2;
      u[2] = g2;
      u[3] = g1;
      u[4] = g1;
    }
  }
  // Adjoint of Weight, G^T u: a kernel row or column of the weight gradient (u[i * stride]).
  template <class V>
  static HWY_INLINE void WeightAdjoint(const V* u, size_t stride, V* g) {
    const V u0 = u[0], u1 = u[stride], u2 = u[2 * stride], u3 = u[3 * stride];
    if constexpr (kStride == 1) {
      const V half = hn::Set(hn::DFromV<V>(), 0.5f);
      const V sum = hn::Mul(half, hn::Add(u1, u2));
      g[0] = hn::Add(u0, sum);
      g[1] = hn::Mul(half, hn::Sub(u1, u2));
      g[2] = hn::Add(sum, u3);
    } else {
      g[0] = hn::Add(u0, u1);
      g[1] = hn::Add(u3, u[4 * stride]);
      g[2] = hn::Add(u1, u2);
    }
  }
};

// Transforms 3x3 weights w (out_channels, cg, 3, 3) for Winograd<kStride> and packs them for
// the GEMMs: U_xi = (G g G^T)[xi] per group and transform point xi as a kg x cg PackA matrix
// (KC blocks over c, kGemmMR-row strips over k) at wpack + (g * kPoints + xi) * rkg * cg. With
// `transposed`, packs U_xi^T (cg x kg, for the backward-data GEMMs) at
// wpack + (g * kPoints + xi) * rcg * kg instead. Tasks are strips of kGemmMR rows.
template <size_t kStride>
inline void WinogradPackWeights(const Conv2dShape& s, const float* w, bool transposed,
                                float* wpack, ThreadPool& pool, bool parallel) {
  using W = Winograd<kStride>;
  constexpr size_t kP = W::kP, kPoints = W::kPoints;
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  // The packed matrix has `rows` rows (strips of MR) and `depth` columns (KC blocks).
  const size_t rows = transposed ? cg : kg, depth = transposed ? kg : cg;
  const size_t KC = GemmKC(), MR = kGemmMR;
  const size_t rrows = detail::RoundUp(rows, MR), strips = rrows / MR;
  detail::RunTasks(pool, parallel, s.groups * strips, [&](uint64_t task, size_t) {
    const size_t g = task / strips, r0 = (task % strips) * MR;
    for (size_t e = 0; e < depth; ++e) {
      const size_t pc = e / KC * KC, kc = std::min(KC, depth - pc);
      float* HWY_RESTRICT dst =
          wpack + g * kPoints * rrows * depth + pc * rrows + r0 * kc + (e - pc) * MR;
      for (size_t rr = 0; rr < MR; ++rr) {
        const size_t r = r0 + rr;
        if (r >= rows) {
          for (size_t xi = 0; xi < kPoints; ++xi) dst[xi * rrows * depth + rr] = 0.0f;
          continue;
        }
        const size_t k = transposed ? e : r, c = transposed ? r : e;
        const float* g9 = w + ((g * kg + k) * cg + c) * 9;
        float t[3][kP];  // t[col][i] = (G g)[i][col]
        for (size_t col = 0; col < 3; ++col) W::Weight(g9 + col, 3, t[col]);
        for (size_t i = 0; i < kP; ++i) {
          const float ti[3] = {t[0][i], t[1][i], t[2][i]};
          float u[kP];  // (G g G^T)[i][l]
          W::Weight(ti, 1, u);
          for (size_t l = 0; l < kP; ++l) dst[(i * kP + l) * rrows * depth + rr] = u[l];
        }
      }
    }
  });
}

// Winograd<kStride> input transform V = B^T d B of tiles [t0, t0 + ntr) of group g (tiles
// numbered globally over the batch, row major per image; tiles from t0 + nt on are zero), N
// tiles per vector. The input rows the tiles read are first copied zero-padded; then per
// channel and patch row i, the runs of tiles of each tile row are laid end to end in two
// staging rows, columns [0, kStep) of every patch and the same shifted by kStep, so that
// deinterleaving loads (2 lanes per tile at stride 1, 4 at stride 2) yield the kP x kP patch
// values of N consecutive tiles whatever the image width, without gathers. Transform point xi
// of channel c and tiles [t0 + j, t0 + j + N) is stored (unaligned) at out(c, j) + xi * xstride.
template <size_t kStride, class Out>
HWY_INLINE void WinogradInputTransform(const Conv2dShape& s, const float* HWY_RESTRICT x,
                                       size_t g, size_t t0, size_t nt, size_t ntr,
                                       size_t xstride, const Out& out) {
  using W = Winograd<kStride>;
  constexpr size_t kP = W::kP, kStep = W::kStep;
  const size_t cg = s.in_channels / s.groups, hw = s.in_h * s.in_w;
  const size_t tiles_h = detail::DivCeil(s.out_h(), 2), tiles_w = detail::DivCeil(s.out_w(), 2);
  const size_t tiles = tiles_h * tiles_w;
  const GemmD d;
  const size_t N = hn::Lanes(d);
  // Zero-padded planes of the rows the tiles read, per image: padded rows [row0, row0 + rmax)
  // of the wp columns the tiles read, plus slack for the vector copies' overrun.
  const size_t hp = kStep * tiles_h + kP - kStep, wp = kStep * tiles_w + kP - kStep;
  const size_t n_first = t0 / tiles, n_last = (t0 + nt - 1) / tiles;
  const size_t images = n_last - n_first + 1;
  size_t rmax = 0;
  auto image_rows = [&](size_t n, size_t* first, size_t* count) {
    const size_t ta = std::max(t0, n * tiles), tb = std::min(t0 + nt, (n + 1) * tiles);
    const size_t tr_a = (ta - n * tiles) / tiles_w, tr_b = (tb - 1 - n * tiles) / tiles_w;
    *first = kStep * tr_a;
    *count = std::min(hp, kStep * tr_b + kP) - kStep * tr_a;
  };
  for (size_t n = n_first; n <= n_last; ++n) {
    size_t first, count;
    image_rows(n, &first, &count);
    rmax = std::max(rmax, count);
  }
  const size_t pstride = PhasedLayout::ChannelStride(rmax * wp);
  const size_t slack = 2 * N + 2 * kStep;
  const size_t planes_end = images * cg * pstride;
  // Input columns the tiles read (at stride 2 the padded row can be wider than wp).
  const size_t copy_w = std::min(s.in_w, wp - std::min(wp, s.pad_w));
  float* planes = detail::ThreadScratch(detail::kScratchWinogradPlanes, planes_end + slack);
  for (size_t n = n_first; n <= n_last; ++n) {
    size_t first, count;
    image_rows(n, &first, &count);
    for (size_t c = 0; c < cg; ++c) {
      const float* HWY_RESTRICT xc = x + (n * s.in_channels + g * cg + c) * hw;
      // Padded row r of the image is at base + (r - first) * wp.
      float* HWY_RESTRICT base = planes + ((n - n_first) * cg + c) * pstride;
      for (size_t r = first; r < first + count; ++r) {
        float* HWY_RESTRICT row = base + (r - first) * wp;
        const long ih = static_cast<long>(r) - static_cast<long>(s.pad_h);
        if (ih < 0 || ih >= static_cast<long>(s.in_h) || copy_w == 0) {
          std::fill(row, row + wp, 0.0f);
          continue;
        }
        std::fill(row, row + s.pad_w, 0.0f);
        CopyRow(xc + ih * s.in_w, copy_w, row + s.pad_w);
        std::fill(row + s.pad_w + copy_w, row + wp, 0.0f);
      }
      std::fill(base + count * wp, base + pstride, 0.0f);
    }
  }
  std::fill(planes + planes_end, planes + planes_end + slack, 0.0f);
  // Staging row i: columns [0, kStep) of patch row i; row kP + i: columns [kStep, 2 kStep).
  const size_t rl = kStep * ntr + N;
  float* rows = detail::ThreadScratch(detail::kScratchRows, 2 * kP * rl);
  using V = hn::Vec<GemmD>;
  for (size_t c = 0; c < cg; ++c) {
    for (size_t t = t0; t < t0 + nt;) {
      const size_t n = t / tiles, tr = (t % tiles) / tiles_w, tc0 = t % tiles_w;
      const size_t cnt = std::min(tiles_w - tc0, t0 + nt - t), j = t - t0;
      size_t first, count;
      image_rows(n, &first, &count);
      const float* HWY_RESTRICT pl = planes + ((n - n_first) * cg + c) * pstride +
                                     (kStep * tr - first) * wp + kStep * tc0;
      for (size_t i = 0; i < kP; ++i) {
        const float* HWY_RESTRICT src = pl + i * wp;
        float* HWY_RESTRICT lo = rows + i * rl + kStep * j;
        float* HWY_RESTRICT hi = rows + (kP + i) * rl + kStep * j;
        // Whole vectors: the overrun is overwritten by the next run or lands in the slack.
        for (size_t m = 0; m < kStep * cnt; m += N) {
          hn::StoreU(hn::LoadU(d, src + m), d, lo + m);
          hn::StoreU(hn::LoadU(d, src + kStep + m), d, hi + m);
        }
      }
      t += cnt;
    }
    if (ntr > nt) {
      for (size_t i = 0; i < 2 * kP; ++i) {
        std::fill(rows + i * rl + kStep * nt, rows + i * rl + kStep * ntr, 0.0f);
      }
    }
    for (size_t j = 0; j < ntr; j += N) {
      // B^T d B: each patch row is loaded and transformed (d B), then each column (B^T),
      // which keeps about kPoints vectors live.
      V t[kP][kP];  // t[i][l] = (d B)[i][l]
      HWY_UNROLL(5)
      for (size_t i = 0; i < kP; ++i) {
        const float* HWY_RESTRICT lo = rows + i * rl + kStep * j;
        const float* HWY_RESTRICT hi = rows + (kP + i) * rl + kStep * j;
        V dd[kP];
        if constexpr (kStride == 1) {
          hn::LoadInterleaved2(d, lo, dd[0], dd[1]);
          hn::LoadInterleaved2(d, hi, dd[2], dd[3]);
        } else {
          V unused[3];
          hn::LoadInterleaved4(d, lo, dd[0], dd[1], dd[2], dd[3]);
          hn::LoadInterleaved4(d, hi, dd[4], unused[0], unused[1], unused[2]);
        }
        W::Input(dd, t[i]);
      }
      float* HWY_RESTRICT dst = out(c, j);
      HWY_UNROLL(5)
      for (size_t l = 0; l < kP; ++l) {
        V col[kP], v[kP];
        HWY_UNROLL(5)
        for (size_t i = 0; i < kP; ++i) col[i] = t[i][l];
        W::Input(col, v);
        HWY_UNROLL(5)
        for (size_t i = 0; i < kP; ++i) hn::StoreU(v[i], d, dst + (i * kP + l) * xstride);
      }
    }
  }
}

// Most tiles per forward Winograd task (measured on Zen 4: 64 beats 128 for 64-128 channels on
// 2 threads, where two threads share the L3). A multiple of every target's NR.
constexpr size_t kMaxWinogradChunk = 64;

// Winograd<kStride> forward for 3x3 kernels with no dilation: each 2x2 output tile is
// A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A over its kP x kP input patch d, i.e. kPoints
// independent GEMMs (one per transform point xi) of U_xi (kg x cg) by V_xi (cg x tiles): 16
// (stride 1) or 25 (stride 2) multiplies per 4 outputs instead of 36 (GFLOPS are still reported
// for the direct count). Tiles of all images are numbered globally, so small images still fill
// whole NR-wide panels. The transforms only add/subtract and halve, so the rounding error stays
// a small multiple of the direct method's.
template <size_t kStride>
inline void ConvForwardWinograd(const Conv2dShape& s, const float* x, const float* w,
                                const float* bias, float* y, bool relu, ThreadPool& pool) {
  using W = Winograd<kStride>;
  constexpr size_t kP = W::kP, kPoints = W::kPoints;
  const detail::ConvGeom geo(s);
  const size_t NR = GemmNR(), KC = GemmKC(), MC = GemmMC();
  const size_t cg = geo.cg, kg = geo.kg;
  const size_t tiles_h = detail::DivCeil(geo.oh, 2), tiles_w = detail::DivCeil(geo.ow, 2);
  const size_t tiles = tiles_h * tiles_w, total = s.batch * tiles;
  const size_t rkg = detail::RoundUp(kg, kGemmMR);
  const size_t threads = pool.NumThreads();
  const bool parallel = threads > 1 && s.batch * s.out_channels * geo.p * geo.crs >=
                                           detail::kMinParallelMacs;
  float* wpack = detail::ThreadScratch(detail::kScratchConvW, s.groups * kPoints * rkg * cg);
  WinogradPackWeights<kStride>(s, w, false, wpack, pool, parallel);
  // Tasks: (group, chunk of NT global tiles), NT sized so that the transformed input and the
  // GEMM results (kPoints x (cg + kg) x NT floats) stay within about 1 MiB (L2), and at most
  // kMaxWinogradChunk.
  const size_t NT = detail::RoundUp(
      std::min(kMaxWinogradChunk, std::max(NR, (size_t{1} << 18) / (kPoints * (cg + kg)))), NR);
  const size_t chunks = detail::DivCeil(total, NT);
  detail::RunTasks(pool, parallel, s.groups * chunks, [&](uint64_t task, size_t) {
    const size_t g = task / chunks, t0 = (task % chunks) * NT;
    const size_t nt = std::min(NT, total - t0), ntr = detail::RoundUp(nt, NR);
    // V_xi in PackB layout (KC blocks over c, NR-tile strips), then M_xi = U_xi V_xi.
    // Odd cache-line counts between the points' matrices: the transforms touch all points of
    // a few tiles, which would otherwise map to one L1 set (cg * ntr floats = 16 KiB and more).
    const size_t bstride = PhasedLayout::ChannelStride(cg * ntr);
    const size_t mstride = PhasedLayout::ChannelStride(kg * ntr);
    float* bbuf = detail::ThreadScratch(detail::kScratchPackB, kPoints * bstride);
    float* mbuf = detail::ThreadScratch(detail::kScratchConvAcc, kPoints * mstride);
    WinogradInputTransform<kStride>(s, x, g, t0, nt, ntr, bstride, [&](size_t c, size_t j) {
      const size_t pc = c / KC * KC, kcb = std::min(KC, cg - pc);
      return bbuf + pc * ntr + (j / NR) * NR * kcb + (c - pc) * NR + j % NR;
    });
    for (size_t xi = 0; xi < kPoints; ++xi) {
      for (size_t pc = 0; pc < cg; pc += KC) {
        const size_t kc = std::min(KC, cg - pc);
        const TileEpilogue ep{pc == 0 ? 0.0f : 1.0f, nullptr, false};
        for (size_t ic = 0; ic < kg; ic += MC) {
          const size_t mc = std::min(MC, kg - ic);
          MacroKernel(mc, nt, kc, wpack + (g * kPoints + xi) * rkg * cg + pc * rkg + ic * kc,
                      bbuf + xi * bstride + pc * ntr, mbuf + xi * mstride + ic * ntr, ntr, ep);
        }
      }
    }
    const GemmD d;
    const size_t N = hn::Lanes(d);
    // Y = A^T M A, N tiles at a time, plus bias and ReLU.
    // The two output rows of consecutive tiles are interleaved (StoreInterleaved2) into two
    // buffer rows, then each run of tiles in one tile row is copied to its pixels with vector
    // stores (masked at the end; odd output sizes clip the last column / row).
    struct OutRun {
      size_t j, cols, off;  // first tile in the chunk, output columns, offset in y sans k
      bool down;            // the tile row's bottom output row exists
    };
    OutRun runs[kMaxWinogradChunk];
    size_t num_runs = 0;
    for (size_t t = t0; t < t0 + nt;) {
      const size_t n = t / tiles, tr = (t % tiles) / tiles_w, tc0 = t % tiles_w;
      const size_t cnt = std::min(tiles_w - tc0, t0 + nt - t);
      runs[num_runs++] = {t - t0, std::min(2 * cnt, geo.ow - 2 * tc0),
                          (n * s.out_channels + g * kg) * geo.p + 2 * tr * geo.ow + 2 * tc0,
                          2 * tr + 1 < geo.oh};
      t += cnt;
    }
    float* top = detail::ThreadScratch(detail::kScratchRows, 2 * (2 * ntr + 2 * N));
    float* bottom = top + 2 * ntr + 2 * N;
    for (size_t k = 0; k < kg; ++k) {
      const auto vb = hn::Set(d, bias != nullptr ? bias[g * kg + k] : 0.0f);
      const float* HWY_RESTRICT mk = mbuf + k * ntr;
      for (size_t j = 0; j < nt; j += N) {
        hn::Vec<GemmD> t[2][kP];
        HWY_UNROLL(5)
        for (size_t l = 0; l < kP; ++l) {
          hn::Vec<GemmD> m[kP], tl[2];
          HWY_UNROLL(5)
          for (size_t i = 0; i < kP; ++i) m[i] = hn::LoadU(d, mk + (i * kP + l) * mstride + j);
          W::Output(m, tl);
          t[0][l] = tl[0];
          t[1][l] = tl[1];
        }
        HWY_UNROLL(5)
        for (size_t i = 0; i < 2; ++i) {
          hn::Vec<GemmD> yv[2];
          W::Output(t[i], yv);
          auto v0 = hn::Add(yv[0], vb), v1 = hn::Add(yv[1], vb);
          if (relu) {
            v0 = hn::Max(v0, hn::Zero(d));
            v1 = hn::Max(v1, hn::Zero(d));
          }
          hn::StoreInterleaved2(v0, v1, d, (i == 0 ? top : bottom) + 2 * j);
        }
      }
      for (size_t r = 0; r < num_runs; ++r) {
        const OutRun& run = runs[r];
        float* HWY_RESTRICT dst = y + run.off + k * geo.p;
        CopyRowPadded(top + 2 * run.j, run.cols, dst);
        if (run.down) CopyRowPadded(bottom + 2 * run.j, run.cols, dst + geo.ow);
      }
    }
  });
}

// Computes y = act(conv(x, w) + bias) (Conv2dForward's contract), choosing the algorithm:
// the direct path on a padded, phase-split copy of the image (no im2col packing) unless it
// wastes clearly more lanes than the implicit GEMM with im2col fused into the B packing.
inline void ConvForwardImpl(const Conv2dShape& s, const float* x, const float* w,
                            const float* bias, float* y, bool relu, ThreadPool& pool) {
  const size_t wino = Conv2dWinogradStride(s);
  if (wino == 1) {
    ConvForwardWinograd<1>(s, x, w, bias, y, relu, pool);
    return;
  }
  if (wino == 2) {
    ConvForwardWinograd<2>(s, x, w, bias, y, relu, pool);
    return;
  }
  // The direct path computes whole NR-pixel blocks of the padded width; the im2col path whole
  // NR-pixel blocks of the output. Prefer direct (no packing) unless it wastes clearly more
  // lanes (small images with wide padding, e.g. 8x8 + pad 1 uses 64 of 96 lanes).
  // Pointwise convolutions over many channels also go to im2col (a plain copy into packed
  // panels): in place, each block of pixels reads one line from every channel plane, more
  // streams than the prefetchers follow (64 -> 256 channels on 16x16, 2 threads: 185 -> 205
  // GFLOPS forward, and its backward-data 160 -> 162).
  const size_t NR = GemmNR();
  const PhasedLayout layout(s);
  const double direct_lanes = static_cast<double>(detail::RoundUp(layout.nv, NR));
  const double im2col_lanes = static_cast<double>(detail::RoundUp(s.out_h() * s.out_w(), NR));
  const bool many_channel_pointwise = s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 &&
                                      s.stride_w == 1 && layout.wq == s.out_w() &&
                                      s.in_channels / s.groups >= 64;
  if (direct_lanes <= 1.15 * im2col_lanes && !many_channel_pointwise) {
    ConvForwardDirect(s, x, w, bias, y, relu, pool);
  } else {
    ConvForwardIm2col(s, x, w, bias, y, relu, pool);
  }
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
  const size_t threads = pool.NumThreads();
  const bool parallel = threads > 1 && s.batch * s.out_channels * geo.p * geo.crs >=
                                           detail::kMinParallelMacs;
  const size_t units = s.batch * s.groups;
  size_t chunks = 1;
  if (parallel && units < 2 * threads) {
    chunks = std::min(geo.cg, detail::DivCeil(2 * threads, units));
  }
  // Pixel chunk: keeps the column buffer (rows x qc floats) near 256 KiB.
  const size_t max_rows = detail::DivCeil(geo.cg, chunks) * geo.rs;
  const size_t qc_max =
      std::min(detail::RoundUp(geo.p, NR),
               std::max(NR, (size_t{65536} / max_rows) / NR * NR));
  // A = W_g^T restricted to a chunk's rows: (rows x kg), packed per KC block of kg, once per
  // (group, channel chunk) for all images.
  const size_t apack_size = detail::RoundUp(max_rows, kGemmMR) * geo.kg;
  float* apack_all = detail::ThreadScratch(detail::kScratchConvW, s.groups * chunks * apack_size);
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
  detail::RunTasks(pool, parallel, units * chunks, [&](uint64_t task, size_t) {
    const size_t unit = task / chunks, chunk = task % chunks;
    const size_t n = unit / s.groups, g = unit % s.groups;
    const size_t c0 = geo.cg * chunk / chunks, c1 = geo.cg * (chunk + 1) / chunks;
    if (c1 <= c0) return;
    const size_t rows = (c1 - c0) * geo.rs;
    float* dxg = dx + (n * s.in_channels + g * geo.cg) * geo.hw;
    std::fill(dxg + c0 * geo.hw, dxg + c1 * geo.hw, 0.0f);
    const float* dyg = dy + (n * s.out_channels + g * geo.kg) * geo.p;
    const size_t rrows = detail::RoundUp(rows, kGemmMR);
    const float* apack = apack_all + (g * chunks + chunk) * apack_size;
    float* bpack = detail::ThreadScratch(detail::kScratchPackB, KC * qc_max);
    // Slack before and after: the stride-2 col2im reads whole vectors around each row.
    const size_t col_slack = s.dilation_w * s.kernel_w + 2 * N;
    float* col = detail::ThreadScratch(detail::kScratchConvCol, rows * qc_max + 2 * col_slack) +
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

// Winograd<2> backward-data for 3x3 stride-2 kernels with no dilation: the adjoint of the
// forward, dX_tile,c = B [ sum_k U_kc .* (A^T-adjoint dY_tile,k) ] B^T, i.e. per 2x2 tile of
// dy the 25 points dM = A dY A^T, 25 GEMMs E_xi (cg x tiles) = U_xi^T (cg x kg) * dM_xi, and
// 5x5 input patches B E B^T that overlap their neighbours by one row and one column and are
// summed into a zero-padded plane per input channel, then cropped into dx: 25 multiplies per
// tile instead of 36 and no column buffer. Tasks are (image, group, input-channel chunk);
// chunks own disjoint dx planes and walk their image's tiles in order.
inline void ConvBackwardDataWinogradStride2(const Conv2dShape& s, const float* dy,
                                            const float* w, float* dx, ThreadPool& pool) {
  using W = Winograd<2>;
  constexpr size_t kP = W::kP, kPoints = W::kPoints, kStep = W::kStep;
  const detail::ConvGeom geo(s);
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  const size_t NR = GemmNR(), KC = GemmKC(), MC = GemmMC();
  const size_t cg = geo.cg, kg = geo.kg;
  const size_t tiles_h = detail::DivCeil(geo.oh, 2), tiles_w = detail::DivCeil(geo.ow, 2);
  const size_t tiles = tiles_h * tiles_w;
  const size_t rcg = detail::RoundUp(cg, kGemmMR);
  const size_t threads = pool.NumThreads();
  const bool parallel = threads > 1 && s.batch * s.out_channels * geo.p * geo.crs >=
                                           detail::kMinParallelMacs;
  float* wpack = detail::ThreadScratch(detail::kScratchConvW, s.groups * kPoints * rcg * kg);
  WinogradPackWeights<2>(s, w, true, wpack, pool, parallel);
  const size_t units = s.batch * s.groups;
  size_t chunks = 1;
  if (parallel && units < 2 * threads) {
    chunks = std::min(rcg / kGemmMR, detail::DivCeil(2 * threads, units));
  }
  // Tiles per step: dM and E (kPoints x (kg + cg) x NT floats) within about 1 MiB (L2).
  const size_t NT = detail::RoundUp(
      std::min(kMaxWinogradChunk, std::max(NR, (size_t{1} << 18) / (kPoints * (cg + kg)))), NR);
  // The zero-padded dx planes: the patches cover padded rows and columns [0, 4 * tiles + 1).
  const size_t ph = kStep * tiles_h + 1, pw = kStep * tiles_w + 1;
  const size_t pstride = PhasedLayout::ChannelStride(ph * pw);
  detail::RunTasks(pool, parallel, units * chunks, [&](uint64_t task, size_t) {
    const size_t unit = task / chunks, chunk = task % chunks;
    const size_t n = unit / s.groups, g = unit % s.groups;
    // Input channels [c0, c1): whole kGemmMR strips of the packed U^T.
    const size_t strips = rcg / kGemmMR;
    const size_t c0 = strips * chunk / chunks * kGemmMR;
    const size_t c1 = std::min(cg, strips * (chunk + 1) / chunks * kGemmMR);
    if (c1 <= c0) return;
    const size_t cc = c1 - c0;
    const size_t dstride = PhasedLayout::ChannelStride(kg * NT);
    const size_t estride = PhasedLayout::ChannelStride(cc * NT);
    float* dmb = detail::ThreadScratch(detail::kScratchPackB, kPoints * dstride);
    float* ebuf = detail::ThreadScratch(detail::kScratchConvAcc, kPoints * estride);
    float* planes = detail::ThreadScratch(detail::kScratchWinogradPlanes, cc * pstride + N);
    std::fill(planes, planes + cc * pstride + N, 0.0f);
    // Staging rows: 2 for dy (2 floats per tile), kP for the patch rows (4 per tile), kP for
    // the patches' column 4 and one for the run-continuation flags.
    const size_t rl = kStep * NT + 2 * N;
    float* rows = detail::ThreadScratch(detail::kScratchRows, (3 + 2 * kP) * rl);
    const float* dyg = dy + (n * s.out_channels + g * kg) * geo.p;
    struct Run {
      size_t j, tr, tc0, cnt;
    };
    Run runs[kMaxWinogradChunk];
    for (size_t t0 = 0; t0 < tiles; t0 += NT) {
      const size_t nt = std::min(NT, tiles - t0), ntr = detail::RoundUp(nt, NR);
      size_t num_runs = 0;
      for (size_t t = t0; t < t0 + nt;) {
        const size_t tr = t / tiles_w, tc0 = t % tiles_w;
        const size_t cnt = std::min(tiles_w - tc0, t0 + nt - t);
        runs[num_runs++] = {t - t0, tr, tc0, cnt};
        t += cnt;
      }
      // dM = A dY A^T per output channel, N tiles at a time, into PackB strips per point.
      float* top = rows;
      float* bottom = rows + rl;
      for (size_t k = 0; k < kg; ++k) {
        const float* HWY_RESTRICT yk = dyg + k * geo.p;
        for (size_t r = 0; r < num_runs; ++r) {
          const Run& run = runs[r];
          // The run's dy, zeros past out_w (odd out_w: the last tile's right column) and below
          // out_h.
          const size_t len = std::min(2 * run.cnt, geo.ow - 2 * run.tc0);
          const size_t oh = 2 * run.tr;
          float* HWY_RESTRICT t = top + 2 * run.j;
          float* HWY_RESTRICT b = bottom + 2 * run.j;
          CopyRow(yk + oh * geo.ow + 2 * run.tc0, len, t);
          std::fill(t + len, t + 2 * run.cnt, 0.0f);
          if (oh + 1 < geo.oh) {
            CopyRow(yk + (oh + 1) * geo.ow + 2 * run.tc0, len, b);
            std::fill(b + len, b + 2 * run.cnt, 0.0f);
          } else {
            std::fill(b, b + 2 * run.cnt, 0.0f);
          }
        }
        std::fill(top + 2 * nt, top + 2 * ntr, 0.0f);
        std::fill(bottom + 2 * nt, bottom + 2 * ntr, 0.0f);
        const size_t pc = k / KC * KC, kcb = std::min(KC, kg - pc);
        for (size_t j = 0; j < ntr; j += N) {
          V a, b, c, e;
          hn::LoadInterleaved2(d, top + 2 * j, a, b);
          hn::LoadInterleaved2(d, bottom + 2 * j, c, e);
          W::OutputAdjoint2D(d, a, b, c, e,
                             dmb + pc * ntr + (j / NR) * NR * kcb + (k - pc) * NR + j % NR,
                             dstride);
        }
      }
      // E_xi = U_xi^T dM_xi for this task's input channels.
      for (size_t xi = 0; xi < kPoints; ++xi) {
        const float* ua = wpack + (g * kPoints + xi) * rcg * kg;
        for (size_t pc = 0; pc < kg; pc += KC) {
          const size_t kc = std::min(KC, kg - pc);
          const TileEpilogue ep{pc == 0 ? 0.0f : 1.0f, nullptr, false};
          for (size_t ic = 0; ic < cc; ic += MC) {
            const size_t mc = std::min(MC, cc - ic);
            MacroKernel(mc, nt, kc, ua + pc * rcg + (c0 + ic) * kc,
                        dmb + xi * dstride + pc * ntr, ebuf + xi * estride + ic * ntr, ntr, ep);
          }
        }
      }
      // dX = B E B^T per input channel, N tiles at a time: columns 0-3 of patch row a are
      // interleaved into a staging row (with the previous tile's column 4 added to column 0),
      // then each run adds it into its plane row with vector stores that never overlap. (Two
      // overlapping passes, columns 0-3 and then 4-7, stalled on store-to-load forwarding.)
      float* lo = rows + 2 * rl;
      float* col4 = lo + kP * rl;
      // keep[t]: tile t continues the run of tile t - 1 (same tile row, same step).
      float* keep = col4 + kP * rl;
      for (size_t t = 0; t < ntr; ++t) {
        keep[t] = t > 0 && t < nt && (t0 + t) % tiles_w != 0 ? 1.0f : 0.0f;
      }
      // Rotates lanes up by one: lane i + 1 gets lane i, lane 0 gets lane N - 1.
      HWY_ALIGN int32_t rot[hn::MaxLanes(GemmD())];
      for (size_t i = 0; i < N; ++i) rot[i] = static_cast<int32_t>((i + N - 1) % N);
      const auto rot_idx = hn::SetTableIndices(d, rot);
      const auto lane0 = hn::FirstN(d, 1);
      for (size_t c = 0; c < cc; ++c) {
        const float* HWY_RESTRICT ec = ebuf + c * ntr;
        V prev[kP];  // per patch row, the previous vector's column 4, rotated
        for (size_t a = 0; a < kP; ++a) prev[a] = hn::Zero(d);
        for (size_t j = 0; j < nt; j += N) {
          V r[kP][kP];  // r[i][b] = (E B^T)[i][b]
          HWY_UNROLL(5)
          for (size_t i = 0; i < kP; ++i) {
            V e[kP];
            HWY_UNROLL(5)
            for (size_t l = 0; l < kP; ++l) e[l] = hn::LoadU(d, ec + (i * kP + l) * estride + j);
            W::InputAdjoint(e, r[i]);
          }
          HWY_UNROLL(5)
          for (size_t b = 0; b < kP; ++b) {
            V col[kP], p[kP];
            HWY_UNROLL(5)
            for (size_t i = 0; i < kP; ++i) col[i] = r[i][b];
            W::InputAdjoint(col, p);  // p[a] = dX[a][b]
            HWY_UNROLL(5)
            for (size_t i = 0; i < kP; ++i) r[i][b] = p[i];
          }
          // Column 4 of a tile is column 0 of the next tile of its run: it is added there in
          // registers (lanes shifted up by one, the previous vector's last lane into lane 0);
          // a run's last column 4 is added to the plane on its own.
          const auto cont = hn::Ne(hn::LoadU(d, keep + j), hn::Zero(d));
          HWY_UNROLL(5)
          for (size_t a = 0; a < kP; ++a) {
            const V rotated = hn::TableLookupLanes(r[a][4], rot_idx);
            const V carry = hn::IfThenElseZero(cont, hn::IfThenElse(lane0, prev[a], rotated));
            prev[a] = rotated;
            hn::StoreInterleaved4(hn::Add(r[a][0], carry), r[a][1], r[a][2], r[a][3], d,
                                  lo + a * rl + 4 * j);
            hn::StoreU(r[a][4], d, col4 + a * rl + j);
          }
        }
        float* HWY_RESTRICT plane = planes + c * pstride;
        for (size_t rr = 0; rr < num_runs; ++rr) {
          const Run& run = runs[rr];
          float* HWY_RESTRICT prow = plane + kStep * run.tr * pw + kStep * run.tc0;
          const size_t len = 4 * run.cnt;
          for (size_t a = 0; a < kP; ++a) {
            // prow[0, len) += the run's patch row a, whole vectors then a masked tail.
            const float* HWY_RESTRICT src = lo + a * rl + 4 * run.j;
            float* HWY_RESTRICT dst = prow + a * pw;
            size_t i = 0;
            for (; i + N <= len; i += N) {
              hn::StoreU(hn::Add(hn::LoadU(d, dst + i), hn::LoadU(d, src + i)), d, dst + i);
            }
            if (i < len) {
              hn::BlendedStore(hn::Add(hn::LoadU(d, dst + i), hn::LoadU(d, src + i)),
                               hn::FirstN(d, len - i), d, dst + i);
            }
            dst[len] += col4[a * rl + run.j + run.cnt - 1];
          }
        }
      }
    }
    // Crop the padded planes into dx (input pixels no patch reaches get zero).
    float* dxg = dx + (n * s.in_channels + g * cg) * geo.hw;
    const size_t cols = std::min(s.in_w, pw - std::min(pw, s.pad_w));
    for (size_t c = c0; c < c1; ++c) {
      const float* HWY_RESTRICT plane = planes + (c - c0) * pstride;
      for (size_t ih = 0; ih < s.in_h; ++ih) {
        float* HWY_RESTRICT drow = dxg + c * geo.hw + ih * s.in_w;
        const size_t prow = ih + s.pad_h;
        const size_t len = prow < ph ? cols : 0;
        CopyRowPadded(plane + prow * pw + s.pad_w, len, drow);
        std::fill(drow + len, drow + s.in_w, 0.0f);
      }
    }
  });
}

// Computes dx (Conv2dBackwardData's contract). Stride-2 Winograd shapes: the Winograd<2>
// adjoint. Stride 1: dx is the forward convolution of dy with the spatially flipped,
// channel-transposed weights and padding dilation*(R-1) - pad, which reuses the forward paths
// with no column buffer. Otherwise GEMM + col2im.
inline void ConvBackwardDataImpl(const Conv2dShape& s, const float* dy, const float* w,
                                 float* dx, ThreadPool& pool) {
  const detail::ConvGeom geo(s);
  const size_t reach_h = s.dilation_h * (s.kernel_h - 1);
  const size_t reach_w = s.dilation_w * (s.kernel_w - 1);
  if (Conv2dWinogradStride(s) == 2) {
    ConvBackwardDataWinogradStride2(s, dy, w, dx, pool);
    return;
  }
  // The flipped convolution has in_channels / groups output rows per group; with few of them
  // the register tile (kGemmMR rows) is mostly empty, and GEMM + col2im (rows = C*R*S) wins.
  if (s.stride_h != 1 || s.stride_w != 1 || s.pad_h > reach_h || s.pad_w > reach_w ||
      geo.cg < 2 * kGemmMR) {
    ConvBackwardDataGemm(s, dy, w, dx, pool);
    return;
  }
  // wt is (in_channels, kg, R, S): wt[g*cg + c][k][R-1-r][S-1-t] = w[g*kg + k][c][r][t].
  // One task per (group, slice of input channels) writes its own rows of wt.
  float* wt = detail::ThreadScratch(detail::kScratchConvWT, s.out_channels * geo.crs);
  const bool parallel = pool.NumThreads() > 1 && s.out_channels * geo.crs >= (size_t{1} << 16);
  const size_t slices = parallel ? std::min(geo.cg, 4 * pool.NumThreads()) : 1;
  detail::RunTasks(pool, parallel, s.groups * slices, [&](uint64_t task, size_t) {
    const size_t g = task / slices, slice = task % slices;
    const size_t c0 = geo.cg * slice / slices, c1 = geo.cg * (slice + 1) / slices;
    for (size_t c = c0; c < c1; ++c) {
      for (size_t k = 0; k < geo.kg; ++k) {
        const float* src = w + ((g * geo.kg + k) * geo.cg + c) * geo.rs;
        float* dst = wt + ((g * geo.cg + c) * geo.kg + k) * geo.rs;
        for (size_t i = 0; i < geo.rs; ++i) dst[geo.rs - 1 - i] = src[i];
      }
    }
  });
  Conv2dShape t = s;
  t.in_channels = s.out_channels;
  t.out_channels = s.in_channels;
  t.in_h = geo.oh;
  t.in_w = geo.ow;
  t.pad_h = reach_h - s.pad_h;
  t.pad_w = reach_w - s.pad_w;
  ConvForwardImpl(t, dy, wt, nullptr, dx, false, pool);
}

// Accumulates dbias[k] += sum of dy over (batch, pixels), one task per channel slice.
inline void ConvBiasGradImpl(const Conv2dShape& s, const float* dy, float* dbias,
                             ThreadPool& pool, bool parallel) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t p = s.out_h() * s.out_w();
  const size_t tasks = parallel ? std::min(s.out_channels, pool.NumThreads() * 4) : 1;
  detail::RunTasks(pool, parallel && tasks > 1, tasks, [&](uint64_t task, size_t) {
    const size_t k0 = s.out_channels * task / tasks, k1 = s.out_channels * (task + 1) / tasks;
    for (size_t k = k0; k < k1; ++k) {
      auto acc = hn::Zero(d);
      float tail = 0.0f;
      for (size_t n = 0; n < s.batch; ++n) {
        const float* HWY_RESTRICT row = dy + (n * s.out_channels + k) * p;
        size_t i = 0;
        for (; i + N <= p; i += N) acc = hn::Add(acc, hn::LoadU(d, row + i));
        for (; i < p; ++i) tail += row[i];
      }
      dbias[k] += hn::GetLane(hn::SumOfLanes(d, acc)) + tail;
    }
  });
}

// Micro-kernel with A rows read in place: computes the kRows x NR tile
// sum over segments sg < nseg and p < kc of arows[r][sg * a_stride + p] * B(sg * kc + p, :)
// (B in PackB layout) and writes it to c with `ep`. Segments skip the gaps of a strided A
// (e.g. the columns of a padded image row that are not outputs).
// Requires: arows[r] valid for r < kRows (rows past `rows` may alias row 0; not stored).
template <size_t kRows>
HWY_INLINE void RowsMicroKernel(size_t kc, size_t nseg, size_t a_stride,
                                const float* const* HWY_RESTRICT arows,
                                const float* HWY_RESTRICT bp, float* HWY_RESTRICT c,
                                size_t ldc, size_t rows, size_t cols, const TileEpilogue& ep) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  const float* HWY_RESTRICT a[kRows];
  V acc0[kRows], acc1[kRows];
  HWY_UNROLL(16)
  for (size_t r = 0; r < kRows; ++r) {
    a[r] = arows[r];
    acc0[r] = hn::Zero(d);
    acc1[r] = hn::Zero(d);
  }
  for (size_t sg = 0; sg < nseg; ++sg) {
    for (size_t p = 0; p < kc; ++p) {
      const V b0 = hn::Load(d, bp);
      const V b1 = hn::Load(d, bp + N);
      HWY_UNROLL(16)
      for (size_t r = 0; r < kRows; ++r) {
        const V av = hn::Set(d, a[r][p]);
        acc0[r] = hn::MulAdd(av, b0, acc0[r]);
        acc1[r] = hn::MulAdd(av, b1, acc1[r]);
      }
      bp += 2 * N;
    }
    HWY_UNROLL(16)
    for (size_t r = 0; r < kRows; ++r) a[r] += a_stride;
  }
  HWY_UNROLL(16)
  for (size_t r = 0; r < kRows; ++r) {
    if (r < rows) StoreTileRow(d, acc0[r], acc1[r], c + r * ldc, cols, ep, r);
  }
}

// Runs RowsMicroKernel<rows> for 1 <= rows <= kRows (no FMAs for missing rows).
template <size_t kRows>
HWY_INLINE void RowsMicroKernelRows(size_t kc, size_t nseg, size_t a_stride,
                                    const float* const* HWY_RESTRICT arows,
                                    const float* HWY_RESTRICT bp, float* HWY_RESTRICT c,
                                    size_t ldc, size_t rows, size_t cols,
                                    const TileEpilogue& ep) {
  if constexpr (kRows > 1) {
    if (rows < kRows) {
      RowsMicroKernelRows<kRows - 1>(kc, nseg, a_stride, arows, bp, c, ldc, rows, cols, ep);
      return;
    }
  }
  RowsMicroKernel<kRows>(kc, nseg, a_stride, arows, bp, c, ldc, rows, cols, ep);
}

// Per-image-chunk partial gradients of the weight-gradient kernels that split the batch: chunk
// c accumulates into Weights(c) (laid out like dw) and Bias(c) (like dbias; null without
// dbias). With one chunk these are dw and dbias themselves; with more, zeroed scratch that
// AddToOutputs() adds to dw / dbias in chunk order, so the result depends only on the chunk
// count (a function of the thread count), not on which thread ran which chunk.
class ChunkPartials {
 public:
  ChunkPartials(const Conv2dShape& s, size_t chunks, float* dw, float* dbias)
      : chunks_(chunks),
        w_size_(s.out_channels * (s.in_channels / s.groups) * s.kernel_h * s.kernel_w),
        b_size_(dbias != nullptr ? s.out_channels : 0),
        dw_(dw),
        dbias_(dbias) {
    if (chunks_ > 1) {
      const size_t n = chunks_ * (w_size_ + b_size_);
      partial_ = detail::ThreadScratch(detail::kScratchConvPartial, n);
      std::fill(partial_, partial_ + n, 0.0f);
    }
  }

  float* Weights(size_t chunk) const {
    return partial_ != nullptr ? partial_ + chunk * (w_size_ + b_size_) : dw_;
  }
  float* Bias(size_t chunk) const {
    if (dbias_ == nullptr) return nullptr;
    return partial_ != nullptr ? partial_ + chunk * (w_size_ + b_size_) + w_size_ : dbias_;
  }

  void AddToOutputs(ThreadPool& pool) const {
    if (partial_ == nullptr) return;
    const size_t tasks = std::min(w_size_, pool.NumThreads() * 4);
    detail::RunTasks(pool, tasks > 1, tasks, [&](uint64_t task, size_t) {
      const size_t i0 = w_size_ * task / tasks, i1 = w_size_ * (task + 1) / tasks;
      for (size_t c = 0; c < chunks_; ++c) {
        const float* HWY_RESTRICT src = Weights(c);
        for (size_t i = i0; i < i1; ++i) dw_[i] += src[i];
      }
    });
    for (size_t c = 0; c < chunks_ && dbias_ != nullptr; ++c) {
      const float* HWY_RESTRICT src = Bias(c);
      for (size_t k = 0; k < b_size_; ++k) dbias_[k] += src[k];
    }
  }

 private:
  size_t chunks_, w_size_, b_size_;
  float* dw_;
  float* dbias_;
  float* partial_ = nullptr;
};

// Weight gradient (any stride) in transposed form and without im2col:
// dW_g^T (crs x kg) += sum_n X (crs x P) * DY^T (P x kg), where X(crs, (oh, ow)) =
// xpad[off(crs) + oh * wq + ow] reads the PhasedLayout image in place (as in
// ConvForwardDirect; the micro-kernel walks each output row as a segment and skips the wq -
// out_w columns that are not outputs) and DY^T is dy transposed into PackB strips. Each task
// (group, image chunk) accumulates its own transposed tile buffer and adds it, transposed
// back, into dw or its chunk's partial sum.
inline void ConvBackwardWeightsDirect(const Conv2dShape& s, const float* x, const float* dy,
                                      float* dw, float* dbias, ThreadPool& pool, bool parallel) {
  const detail::ConvGeom geo(s);
  const size_t NR = GemmNR(), KC = GemmKC();
  const size_t threads = pool.NumThreads();
  const PhasedLayout layout(s);
  const size_t wp = layout.wq;  // width of the virtual pixel grid
  const size_t rkg = detail::RoundUp(geo.kg, NR);
  const std::vector<int32_t> off = layout.Offsets(s, geo);
  size_t img_chunks = 1;
  if (parallel && s.groups < 2 * threads) img_chunks = std::min(s.batch, threads);
  const ChunkPartials partials(s, img_chunks, dw, dbias);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  detail::RunTasks(pool, parallel, s.groups * img_chunks, [&](uint64_t task, size_t) {
    const size_t ichunk = task % img_chunks, g = task / img_chunks;
    const size_t n0 = s.batch * ichunk / img_chunks, n1 = s.batch * (ichunk + 1) / img_chunks;
    if (n1 <= n0) return;
    // acc: crs x rkg transposed dW, then kg bias sums.
    float* acc = detail::ThreadScratch(detail::kScratchConvAcc, geo.crs * rkg + geo.kg);
    std::fill(acc, acc + geo.crs * rkg + geo.kg, 0.0f);
    float* bias_acc = acc + geo.crs * rkg;
    float* xpad = detail::ThreadScratch(detail::kScratchPackB, geo.cg * layout.channel_size);
    float* bpack = detail::ThreadScratch(detail::kScratchPackA, geo.p * rkg);
    const TileEpilogue ep{1.0f, nullptr, false};
    for (size_t n = n0; n < n1; ++n) {
      layout.Fill(s, x + (n * s.in_channels + g * geo.cg) * geo.hw, geo.cg, 0, xpad);
      // DY^T in PackB strips of NR output channels over the P output pixels.
      const float* dyg = dy + (n * s.out_channels + g * geo.kg) * geo.p;
      // Bias sums first: this also streams the image's dy into L2 in order, so the
      // transpose below reads it from cache rather than from memory with strided misses.
      for (size_t k = 0; k < geo.kg; ++k) {
        const float* HWY_RESTRICT row = dyg + k * geo.p;
        // Four independent sums keep more loads in flight (dy comes from memory here).
        auto sum0 = hn::Zero(d), sum1 = hn::Zero(d), sum2 = hn::Zero(d), sum3 = hn::Zero(d);
        size_t i = 0;
        for (; i + 4 * N <= geo.p; i += 4 * N) {
          sum0 = hn::Add(sum0, hn::LoadU(d, row + i));
          sum1 = hn::Add(sum1, hn::LoadU(d, row + i + N));
          sum2 = hn::Add(sum2, hn::LoadU(d, row + i + 2 * N));
          sum3 = hn::Add(sum3, hn::LoadU(d, row + i + 3 * N));
        }
        for (; i + N <= geo.p; i += N) sum0 = hn::Add(sum0, hn::LoadU(d, row + i));
        float tail = 0.0f;
        for (; i < geo.p; ++i) tail += row[i];
        const auto sum = hn::Add(hn::Add(sum0, sum1), hn::Add(sum2, sum3));
        bias_acc[k] += hn::GetLane(hn::SumOfLanes(d, sum)) + tail;
      }
      // Blocked scalar transpose: a block of 16 pixels x NR channels touches 16 + NR cache
      // lines, all in L1. (Per-pixel gathers down the channels were slower than the GEMM
      // itself: rows of dy are P floats apart, often 4 KiB, which alias in L1.)
      for (size_t js = 0; js < rkg; js += NR) {
        float* HWY_RESTRICT strip = bpack + js * geo.p;
        const size_t cols = std::min(NR, geo.kg - js);
        for (size_t oh = 0; oh < geo.oh; ++oh) {
          float* HWY_RESTRICT o = strip + oh * geo.ow * NR;
          for (size_t ow0 = 0; ow0 < geo.ow; ow0 += 16) {
            const size_t len = std::min<size_t>(16, geo.ow - ow0);
            size_t j = 0;
#if HWY_TARGET != HWY_SCALAR
            // 4x4 blocks transposed in registers (128-bit interleaves): 4 loads, 8 shuffles
            // and 4 stores per 16 floats instead of 16 scalar loads and stores.
            {
              const hn::Full128<float> d4;
              const size_t len4 = len & ~size_t{3};
              for (; j + 4 <= cols; j += 4) {
                const float* HWY_RESTRICT src = dyg + (js + j) * geo.p + oh * geo.ow + ow0;
                float* HWY_RESTRICT dst = o + ow0 * NR + j;
                for (size_t i = len4; i < len; ++i) {
                  for (size_t jj = 0; jj < 4; ++jj) dst[i * NR + jj] = src[jj * geo.p + i];
                }
                for (size_t i = 0; i < len4; i += 4) {
                  const auto r0 = hn::LoadU(d4, src + i);
                  const auto r1 = hn::LoadU(d4, src + geo.p + i);
                  const auto r2 = hn::LoadU(d4, src + 2 * geo.p + i);
                  const auto r3 = hn::LoadU(d4, src + 3 * geo.p + i);
                  const auto t0 = hn::InterleaveLower(d4, r0, r1);
                  const auto t1 = hn::InterleaveLower(d4, r2, r3);
                  const auto t2 = hn::InterleaveUpper(d4, r0, r1);
                  const auto t3 = hn::InterleaveUpper(d4, r2, r3);
                  hn::StoreU(hn::ConcatLowerLower(d4, t1, t0), d4, dst + i * NR);
                  hn::StoreU(hn::ConcatUpperUpper(d4, t1, t0), d4, dst + (i + 1) * NR);
                  hn::StoreU(hn::ConcatLowerLower(d4, t3, t2), d4, dst + (i + 2) * NR);
                  hn::StoreU(hn::ConcatUpperUpper(d4, t3, t2), d4, dst + (i + 3) * NR);
                }
              }
            }
#endif
            for (; j < cols; ++j) {
              const float* HWY_RESTRICT src = dyg + (js + j) * geo.p + oh * geo.ow + ow0;
              float* HWY_RESTRICT dst = o + ow0 * NR + j;
              for (size_t i = 0; i < len; ++i) dst[i * NR] = src[i];
            }
            for (size_t j = cols; j < NR; ++j) {
              for (size_t i = 0; i < len; ++i) o[(ow0 + i) * NR + j] = 0.0f;
            }
          }
        }
      }
      // K blocks of whole output rows (segments of out_w pixels, wq apart in the padded
      // image), or of column chunks of one row when a row alone exceeds KC.
      const float* arows[kGemmMR];
      const size_t seg_rows = std::max<size_t>(1, KC / geo.ow);
      for (size_t oh0 = 0; oh0 < geo.oh; oh0 += seg_rows) {
        const size_t nseg = std::min(seg_rows, geo.oh - oh0);
        for (size_t ow0 = 0; ow0 < geo.ow; ow0 += KC) {
          const size_t kc = std::min(KC, geo.ow - ow0);
          for (size_t js = 0; js < rkg; js += NR) {
            const size_t cols = std::min(NR, geo.kg - js);
            const float* bp = bpack + js * geo.p + (oh0 * geo.ow + ow0) * NR;
            for (size_t is = 0; is < geo.crs; is += kGemmMR) {
              const size_t rows = std::min(kGemmMR, geo.crs - is);
              for (size_t r = 0; r < kGemmMR; ++r) {
                arows[r] = xpad + off[is + (r < rows ? r : 0)] + oh0 * wp + ow0;
              }
              RowsMicroKernelRows<kGemmMR>(kc, nseg, wp, arows, bp, acc + is * rkg + js, rkg,
                                           rows, cols, ep);
            }
          }
        }
      }
    }
    float* target = partials.Weights(ichunk) + g * geo.kg * geo.crs;
    for (size_t k = 0; k < geo.kg; ++k) {
      float* HWY_RESTRICT trow = target + k * geo.crs;
      for (size_t crs = 0; crs < geo.crs; ++crs) trow[crs] += acc[crs * rkg + k];
    }
    if (float* btarget = partials.Bias(ichunk)) {
      for (size_t k = 0; k < geo.kg; ++k) btarget[g * geo.kg + k] += bias_acc[k];
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
        float* apack = detail::ThreadScratch(detail::kScratchPackA, rkg * KC);
        float* bpack = detail::ThreadScratch(detail::kScratchPackB, KC * detail::RoundUp(NC, NR));
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

// Writes the transpose of the rows x cols matrix src (row stride lds) to dst (cols x ldd,
// ldd >= rows), zero-filling columns [rows, ldd) of dst. 4x4 blocks go through registers.
inline void TransposeBlock(const float* HWY_RESTRICT src, size_t lds, size_t rows, size_t cols,
                           float* HWY_RESTRICT dst, size_t ldd) {
  size_t r = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  for (; r + 4 <= rows; r += 4) {
    const float* HWY_RESTRICT s0 = src + r * lds;
    size_t i = 0;
    for (; i + 4 <= cols; i += 4) {
      const auto r0 = hn::LoadU(d4, s0 + i);
      const auto r1 = hn::LoadU(d4, s0 + lds + i);
      const auto r2 = hn::LoadU(d4, s0 + 2 * lds + i);
      const auto r3 = hn::LoadU(d4, s0 + 3 * lds + i);
      const auto t0 = hn::InterleaveLower(d4, r0, r1);
      const auto t1 = hn::InterleaveLower(d4, r2, r3);
      const auto t2 = hn::InterleaveUpper(d4, r0, r1);
      const auto t3 = hn::InterleaveUpper(d4, r2, r3);
      hn::StoreU(hn::ConcatLowerLower(d4, t1, t0), d4, dst + i * ldd + r);
      hn::StoreU(hn::ConcatUpperUpper(d4, t1, t0), d4, dst + (i + 1) * ldd + r);
      hn::StoreU(hn::ConcatLowerLower(d4, t3, t2), d4, dst + (i + 2) * ldd + r);
      hn::StoreU(hn::ConcatUpperUpper(d4, t3, t2), d4, dst + (i + 3) * ldd + r);
    }
    for (; i < cols; ++i) {
      for (size_t rr = 0; rr < 4; ++rr) dst[i * ldd + r + rr] = s0[rr * lds + i];
    }
  }
#endif
  for (; r < rows; ++r) {
    for (size_t i = 0; i < cols; ++i) dst[i * ldd + r] = src[r * lds + i];
  }
  for (size_t i = 0; i < cols; ++i) std::fill(dst + i * ldd + rows, dst + (i + 1) * ldd, 0.0f);
}

// Winograd<kStride> weight gradient for 3x3 kernels with no dilation. With V = B^T d B (the
// forward's input transform) and dM = A dY A^T (the adjoint of the output transform),
// dU_xi (kg x cg) = sum over tiles dM_xi * V_xi^T is kPoints GEMMs whose reduction runs over the
// tiles, and dw += G^T dU G. Computed transposed, dU_xi^T (cg x rkg) += V_xi (cg x tiles, rows
// read in place) * dM_xi^T (tiles x kg, PackB strips built from dy transposed per image):
// kPoints multiplies per 2x2 output tile instead of 36.
// The tiles are split into one contiguous range per part (a fixed function of the thread
// count); each part sums its own dU, and the parts are added in order.
template <size_t kStride>
inline void ConvBackwardWeightsWinograd(const Conv2dShape& s, const float* x, const float* dy,
                                        float* dw, ThreadPool& pool, bool parallel) {
  using W = Winograd<kStride>;
  constexpr size_t kP = W::kP, kPoints = W::kPoints;
  const detail::ConvGeom geo(s);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t NR = GemmNR(), KC = GemmKC();
  const size_t cg = geo.cg, kg = geo.kg;
  const size_t tiles_w = detail::DivCeil(geo.ow, 2);
  const size_t tiles = detail::DivCeil(geo.oh, 2) * tiles_w, total = s.batch * tiles;
  const size_t rkg = detail::RoundUp(kg, NR);
  // Tiles per step: both transforms (kPoints x (cg + rkg) x T floats) within about 2 MiB
  // (L2 and L3: each step also reads and writes the whole dU, so longer steps move less of it;
  // 64 -> 64 channels on 32x32, 128 -> 256 tiles: 161 -> 178 GFLOPS).
  size_t T = (size_t{1} << 19) / (kPoints * (cg + rkg)) / N * N;
  T = std::min(detail::RoundUp(KC, N), std::max(2 * N, T));
  // Whole images per step when an image is at most a third more than T, or when T holds
  // several and they come out in whole vectors: steps that split images copy short runs of
  // rows per input channel, each a cold start for the prefetchers (64 -> 128 channels on
  // 16x16 outputs, 48 -> 64 tiles: 99 -> 108 GFLOPS).
  if (T < tiles && 3 * tiles <= 4 * T) T = detail::RoundUp(tiles, N);
  if (T > tiles && tiles % N == 0) T = T / tiles * tiles;
  const size_t acc_size = kPoints * cg * rkg;
  // Work split: when one dU (kPoints x cg x rkg floats) exceeds 2 MiB, each thread takes a
  // slice of the output channels over all tiles (the input transform is then done once per
  // slice), so the threads' accumulators together stay one dU; otherwise each thread takes a
  // contiguous range of tiles with its own dU, and the ranges are added in order.
  const size_t threads = parallel ? pool.NumThreads() : 1;
  const size_t strips = rkg / NR;
  const bool ksplit = threads > 1 && acc_size * sizeof(float) > (size_t{2} << 20) &&
                      strips >= threads;
  const size_t kparts = ksplit ? threads : 1;
  const size_t parts = ksplit ? 1 : std::min(threads, detail::DivCeil(total, T));
  float* acc_all = detail::ThreadScratch(detail::kScratchConvPartial, s.groups * parts * acc_size);
  detail::RunTasks(pool, parallel, s.groups * parts * kparts, [&](uint64_t task, size_t) {
    const size_t g = task / (parts * kparts), part = (task / kparts) % parts;
    const size_t kpart = task % kparts;
    const size_t p0 = total * part / parts, p1 = total * (part + 1) / parts;
    // Output channel columns [js0, js1) of dU (whole NR strips).
    const size_t js0 = strips * kpart / kparts * NR, js1 = strips * (kpart + 1) / kparts * NR;
    const size_t k1 = std::min(js1, kg), kw = js1 - js0;
    // dU_xi^T at acc + xi * cg * rkg, row stride rkg.
    float* acc = acc_all + (g * parts + part) * acc_size;
    if (p1 <= p0) {
      std::fill(acc, acc + acc_size, 0.0f);
      return;
    }
    // Odd cache-line counts between the points' matrices (see ConvForwardWinograd).
    const size_t vstride = PhasedLayout::ChannelStride(cg * T);
    const size_t dstride = PhasedLayout::ChannelStride(T * rkg);
    float* vbuf = detail::ThreadScratch(detail::kScratchPackB, kPoints * vstride);
    float* dmt = detail::ThreadScratch(detail::kScratchPackA, kPoints * dstride);
    float* dyt = detail::ThreadScratch(detail::kScratchConvCol, geo.p * kw);
    size_t dyt_image = ~size_t{0};
    const float* arows[kGemmMR];
    for (size_t t0 = p0; t0 < p1; t0 += T) {
      const size_t nt = std::min(T, p1 - t0), ntr = detail::RoundUp(nt, N);
      WinogradInputTransform<kStride>(s, x, g, t0, nt, ntr, vstride,
                             [&](size_t c, size_t j) { return vbuf + c * T + j; });
      // dM^T: per tile, the 2x2 block of dy (all kg channels, from dy transposed to pixel-major
      // rows of rkg) becomes kPoints rows of the PackB strips of transform point xi.
      for (size_t j = 0; j < nt; ++j) {
        const size_t tile = t0 + j, n = tile / tiles;
        const size_t oh0 = 2 * ((tile % tiles) / tiles_w), ow0 = 2 * (tile % tiles_w);
        if (n != dyt_image) {
          // Pixel-major rows of this task's kw output channels (zeros past kg).
          TransposeBlock(dy + (n * s.out_channels + g * kg + js0) * geo.p, geo.p, k1 - js0,
                         geo.p, dyt, kw);
          dyt_image = n;
        }
        const bool right = ow0 + 1 < geo.ow, down = oh0 + 1 < geo.oh;
        const float* HWY_RESTRICT y00 = dyt + (oh0 * geo.ow + ow0) * kw;
        for (size_t k = js0; k < js1; k += N) {
          const auto zero = hn::Zero(d);
          const size_t kk = k - js0;
          const auto a = hn::LoadU(d, y00 + kk);
          const auto b = right ? hn::LoadU(d, y00 + kw + kk) : zero;
          const auto c = down ? hn::LoadU(d, y00 + geo.ow * kw + kk) : zero;
          const auto e = right && down ? hn::LoadU(d, y00 + (geo.ow + 1) * kw + kk) : zero;
          W::OutputAdjoint2D(d, a, b, c, e, dmt + (k / NR) * NR * T + j * NR + k % NR, dstride);
        }
      }
      const TileEpilogue ep{t0 == p0 ? 0.0f : 1.0f, nullptr, false};
      for (size_t xi = 0; xi < kPoints; ++xi) {
        const float* va = vbuf + xi * vstride;
        float* cx = acc + xi * cg * rkg;
        for (size_t js = js0; js < js1; js += NR) {
          const size_t cols = std::min(NR, kg - js);
          const float* bp = dmt + xi * dstride + js * T;
          for (size_t is = 0; is < cg; is += kGemmMR) {
            const size_t rows = std::min(kGemmMR, cg - is);
            for (size_t r = 0; r < kGemmMR; ++r) arows[r] = va + (is + (r < rows ? r : 0)) * T;
            RowsMicroKernelRows<kGemmMR>(nt, 1, 0, arows, bp, cx + is * rkg + js, rkg, rows,
                                         cols, ep);
          }
        }
      }
    }
  });
  // dw[k][c] += G^T (sum over parts of dU[k][c]) G, N output channels k at a time (dU^T rows
  // are contiguous in k); the 9 taps of each k are then added to dw's (k, c) run.
  const size_t tasks = parallel ? std::min(s.groups * cg, pool.NumThreads() * 4) : 1;
  detail::RunTasks(pool, parallel && tasks > 1, tasks, [&](uint64_t task, size_t) {
    using V = hn::Vec<GemmD>;
    HWY_ALIGN float taps[9 * hn::MaxLanes(GemmD())];
    const size_t u0 = s.groups * cg * task / tasks, u1 = s.groups * cg * (task + 1) / tasks;
    for (size_t unit = u0; unit < u1; ++unit) {
      const size_t g = unit / cg, c = unit % cg;
      for (size_t k0 = 0; k0 < kg; k0 += N) {
        V u[kPoints];
        for (size_t xi = 0; xi < kPoints; ++xi) {
          const float* src = acc_all + g * parts * acc_size + (xi * cg + c) * rkg + k0;
          u[xi] = hn::LoadU(d, src);
          for (size_t part = 1; part < parts; ++part) {
            u[xi] = hn::Add(u[xi], hn::LoadU(d, src + part * acc_size));
          }
        }
        V t[3][kP];  // t[i][l] = (G^T u)[i][l]: the row points first
        for (size_t l = 0; l < kP; ++l) {
          V col[3];
          W::WeightAdjoint(u + l, kP, col);
          for (size_t i = 0; i < 3; ++i) t[i][l] = col[i];
        }
        for (size_t i = 0; i < 3; ++i) {
          V row[3];
          W::WeightAdjoint(t[i], 1, row);
          for (size_t l = 0; l < 3; ++l) hn::Store(row[l], d, taps + (3 * i + l) * N);
        }
        for (size_t kk = 0; kk < std::min(N, kg - k0); ++kk) {
          float* HWY_RESTRICT out = dw + ((g * kg + k0 + kk) * cg + c) * 9;
          for (size_t tap = 0; tap < 9; ++tap) out[tap] += taps[tap * N + kk];
        }
      }
    }
  });
}

// Register tile of the dot-product weight gradient (ConvBackwardWeightsDot): kDotK output
// channels x kDotC taps of vector partial sums, plus kDotK dy vectors and one x vector.
#if HWY_TARGET == HWY_SCALAR
constexpr size_t kDotK = 2, kDotC = 2;
#elif HWY_TARGET <= HWY_AVX3
constexpr size_t kDotK = 4, kDotC = 5;
#else
constexpr size_t kDotK = 3, kDotC = 4;
#endif

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

// Returns whether ConvBackwardWeightsDot suits the shape: a small gradient per group (the
// stems: 1-3 input channels), whose vector partial sums (kg x crs vectors) stay within 128 KiB.
// Measured on Zen 4 (stride 1, dense mode) against the transposed GEMM: S1 (1 -> 32 channels,
// 5x5) 1.3x, S3 (3 -> 64, 3x3) 1.3x.
inline bool UseBackwardWeightsDot(const Conv2dShape& s) {
  const detail::ConvGeom geo(s);
  return geo.kg * geo.crs * hn::Lanes(GemmD()) <= (size_t{1} << 15);
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
  size_t img_chunks = 1;
  if (parallel && s.groups < 2 * threads) img_chunks = std::min(s.batch, threads);
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
    float* vacc = detail::ThreadScratch(detail::kScratchConvAcc, vsize);
    std::fill(vacc, vacc + vsize, 0.0f);
    float* vbias = vacc + geo.kg * geo.crs * N;
    float* xpad = detail::ThreadScratch(detail::kScratchPackB, geo.cg * layout.channel_size + N);
    const float* dyr[kDotK];
    const float* dtr[kDotK];
    const float* xr[kDotC];
    if (dense) {
      // x for tap (c, r, t) at output pixel p = oh * out_w + ow is xs[xoff[crs] + p]: per
      // (c, t), the padded image shifted by t * dilation_w columns and cropped to out_w
      // columns; dy is read in place, its last partial vector per row from dtail.
      float* xs = detail::ThreadScratch(detail::kScratchPackA, shifted.floats + N);
      float* dtail = detail::ThreadScratch(detail::kScratchRows, geo.kg * N);
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
      float* dyv = detail::ThreadScratch(detail::kScratchPackA, geo.kg * nvr + N);
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

// Accumulates dw (and dbias) (Conv2dBackwardWeights's contract). Shapes with little lane waste
// in the virtual pixel grid run in place on the padded, phase-split image (no im2col); others
// run the GEMM with the transposed im2col packed by gathers.
inline void ConvBackwardWeightsImpl(const Conv2dShape& s, const float* x, const float* dy,
                                    float* dw, float* dbias, ThreadPool& pool) {
  const detail::ConvGeom geo(s);
  const bool parallel = pool.NumThreads() > 1 && s.batch * s.out_channels * geo.p * geo.crs >=
                                                     detail::kMinParallelMacs;
  const size_t wino = Conv2dWinogradStride(s);
  if (wino != 0) {
    if (dbias != nullptr) ConvBiasGradImpl(s, dy, dbias, pool, parallel);
    if (wino == 1) {
      ConvBackwardWeightsWinograd<1>(s, x, dy, dw, pool, parallel);
    } else {
      ConvBackwardWeightsWinograd<2>(s, x, dy, dw, pool, parallel);
    }
  } else if (UseBackwardWeightsDot(s)) {
    ConvBackwardWeightsDot(s, x, dy, dw, dbias, pool, parallel);  // fuses the bias sums
  } else if (PhasedLayout(s).nv * 100 <= geo.p * 115) {
    ConvBackwardWeightsDirect(s, x, dy, dw, dbias, pool, parallel);  // fuses the bias sums
  } else {
    if (dbias != nullptr) ConvBiasGradImpl(s, dy, dbias, pool, parallel);
    ConvBackwardWeightsIm2col(s, x, dy, dw, pool, parallel);
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV2D_KERNELS_TOGGLE
