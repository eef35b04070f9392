// Per-target convolution kernels for few channels per group on small images: the weight
// gradient with the output channels in the vector lanes (accumulated in registers per tap over
// every output pixel of an image: no im2col, no re-read of dW per image), and the forward (and
// so backward-data, flipped) with row segments of output pixels in the lanes and every output
// channel of a block in registers.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV_SMALL_INL_H_
#define SIMDNET_LAYERS_CONV_SMALL_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#endif  // SIMDNET_LAYERS_CONV_SMALL_INL_H_

#if defined(SIMDNET_LAYERS_CONV_SMALL_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV_SMALL_TOGGLE
#undef SIMDNET_LAYERS_CONV_SMALL_TOGGLE
#else
#define SIMDNET_LAYERS_CONV_SMALL_TOGGLE
#endif

#include "hwy/highway.h"
#include "layers/conv_common-inl.h"
#include "tensor/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Accumulator vectors of one channel-lanes tile (taps x vectors of output channels), leaving
// room for the dy vectors and a broadcast: AVX-512 25 (a whole 5x5 kernel plane of one input
// channel for 16 output channels), AVX2 / SSE4 12, scalar 4.
constexpr size_t kLanesAccVectors =
    HWY_TARGET == HWY_SCALAR ? 4 : HWY_TARGET <= HWY_AVX3 ? 25 : 12;
// At most this many vectors of output channels per tile (wider channel counts take several
// passes over the pixels).
constexpr size_t kLanesMaxVectors = 4;

template <size_t kV>
constexpr size_t LanesTaps() {
  return kLanesAccVectors / kV >= 1 ? kLanesAccVectors / kV : 1;
}

// vacc[i * ldv + v * N + lane] += sum over output pixels (oh, ow) of
// xs[oh * sh * wp + ow * sw + off[i]] * dyt[(oh * ow_n + ow) * ldd + v * N + lane], for taps
// i < taps (<= kT) and vectors v < kV: each x value is broadcast once per tap and pixel, each
// dy vector loaded once per pixel for all kT taps. Taps past `taps` repeat tap 0 and are
// dropped. Not inlined: alone, its kT * kV accumulators get the register file.
template <size_t kT, size_t kV>
HWY_NOINLINE void ChannelLanesWeightTile(size_t taps, const int32_t* HWY_RESTRICT off,
                                         const float* HWY_RESTRICT xs, size_t wp, size_t sh,
                                         size_t sw, size_t oh_n, size_t ow_n,
                                         const float* HWY_RESTRICT dyt, size_t ldd,
                                         float* HWY_RESTRICT vacc, size_t ldv) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  V acc[kT][kV];
  HWY_UNROLL(32)
  for (size_t i = 0; i < kT; ++i) {
    HWY_UNROLL(4)
    for (size_t v = 0; v < kV; ++v) acc[i][v] = hn::Zero(d);
  }
  int32_t o[kT];
  for (size_t i = 0; i < kT; ++i) o[i] = off[i < taps ? i : 0];
  for (size_t oh = 0; oh < oh_n; ++oh) {
    const float* HWY_RESTRICT px = xs + oh * sh * wp;
    const float* HWY_RESTRICT y = dyt + oh * ow_n * ldd;
    for (size_t ow = 0; ow < ow_n; ++ow, px += sw, y += ldd) {
      V yv[kV];
      HWY_UNROLL(4)
      for (size_t v = 0; v < kV; ++v) yv[v] = hn::LoadU(d, y + v * N);
      HWY_UNROLL(32)
      for (size_t i = 0; i < kT; ++i) {
        const V b = hn::Set(d, px[o[i]]);
        HWY_UNROLL(4)
        for (size_t v = 0; v < kV; ++v) acc[i][v] = hn::MulAdd(b, yv[v], acc[i][v]);
      }
    }
  }
  for (size_t i = 0; i < taps; ++i) {
    for (size_t v = 0; v < kV; ++v) {
      float* HWY_RESTRICT dst = vacc + i * ldv + v * N;
      hn::StoreU(hn::Add(hn::LoadU(d, dst), acc[i][v]), d, dst);
    }
  }
}

// Runs ChannelLanesWeightTile over taps [0, crs) for kV vectors of output channels.
template <size_t kV>
void ChannelLanesWeightTaps(size_t crs, const int32_t* off, const float* xs, size_t wp,
                            size_t sh, size_t sw, size_t oh_n, size_t ow_n, const float* dyt,
                            size_t ldd, float* vacc, size_t ldv) {
  constexpr size_t kT = LanesTaps<kV>();
  for (size_t i0 = 0; i0 < crs; i0 += kT) {
    ChannelLanesWeightTile<kT, kV>(std::min(kT, crs - i0), off + i0, xs, wp, sh, sw, oh_n, ow_n,
                                   dyt, ldd, vacc + i0 * ldv, ldv);
  }
}

// Weight gradient (any stride, padding, dilation, groups) with the output channels in the
// lanes: per image, dy is transposed to dyT (pixels x kg, rows padded to whole vectors) and
// every tap (c, r, t) accumulates sum over pixels of x(tap, pixel) * dyT[pixel] in a register,
// reading x in place (or from a zero-padded copy when padded). Tasks are (group, image chunk);
// each accumulates its chunk of images in a transposed buffer (crs x kg) and adds it to dw or
// its chunk's partial sum (ChunkPartials: a fixed order for a fixed thread count). Bias sums
// ride along from dyT.
inline void ConvBackwardWeightsChannelLanes(const Conv2dShape& s, const float* x,
                                            const float* dy, float* dw, float* dbias,
                                            ThreadPool& pool, bool parallel) {
  const detail::ConvGeom geo(s);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t kgn = detail::RoundUp(geo.kg, N), nvec = kgn / N;
  const bool padded = s.pad_h > 0 || s.pad_w > 0;
  const size_t hp = s.in_h + 2 * s.pad_h, wp = s.in_w + 2 * s.pad_w;
  const size_t plane = padded ? hp * wp : geo.hw;
  const size_t row = padded ? wp : s.in_w;
  std::vector<int32_t> off(geo.crs);
  for (size_t crs = 0; crs < geo.crs; ++crs) {
    const size_t c = crs / geo.rs, r = (crs % geo.rs) / s.kernel_w, t = crs % s.kernel_w;
    off[crs] = static_cast<int32_t>(c * plane + r * s.dilation_h * row + t * s.dilation_w);
  }
  const size_t threads = pool.NumThreads();
  const size_t img_chunks = WeightGradImageChunks(s, parallel, threads);
  const ChunkPartials partials(s, img_chunks, dw, dbias);
  detail::RunTasks(pool, parallel, s.groups * img_chunks, [&](uint64_t task, size_t) {
    const size_t ichunk = task % img_chunks, g = task / img_chunks;
    const size_t n0 = s.batch * ichunk / img_chunks, n1 = s.batch * (ichunk + 1) / img_chunks;
    if (n1 <= n0) return;
    // acc: crs x kgn transposed dW, then kgn bias sums.
    float* acc = ConvScratch(ConvSlot::kAcc, (geo.crs + 1) * kgn);
    std::fill(acc, acc + (geo.crs + 1) * kgn, 0.0f);
    float* bias_acc = acc + geo.crs * kgn;
    float* xpad = padded ? ConvScratch(ConvSlot::kPackB, geo.cg * plane) : nullptr;
    float* dyt = ConvScratch(ConvSlot::kColumns, geo.p * kgn);
    for (size_t n = n0; n < n1; ++n) {
      const float* xg = x + (n * s.in_channels + g * geo.cg) * geo.hw;
      const float* xs = xg;
      if (padded) {
        std::fill(xpad, xpad + geo.cg * plane, 0.0f);
        for (size_t c = 0; c < geo.cg; ++c) {
          for (size_t i = 0; i < s.in_h; ++i) {
            CopyRow(xg + (c * s.in_h + i) * s.in_w, s.in_w,
                    xpad + c * plane + (i + s.pad_h) * wp + s.pad_w);
          }
        }
        xs = xpad;
      }
      const float* dyg = dy + (n * s.out_channels + g * geo.kg) * geo.p;
      TransposeBlock(dyg, geo.p, geo.kg, geo.p, dyt, kgn);
      for (size_t v = 0; v < nvec; ++v) {
        auto sum = hn::Zero(d);
        for (size_t q = 0; q < geo.p; ++q) sum = hn::Add(sum, hn::LoadU(d, dyt + q * kgn + v * N));
        hn::StoreU(hn::Add(hn::LoadU(d, bias_acc + v * N), sum), d, bias_acc + v * N);
      }
      for (size_t v0 = 0; v0 < nvec; v0 += kLanesMaxVectors) {
        const size_t nv = std::min(kLanesMaxVectors, nvec - v0);
        const float* y = dyt + v0 * N;
        float* a = acc + v0 * N;
        switch (nv) {
          case 1:
            ChannelLanesWeightTaps<1>(geo.crs, off.data(), xs, row, s.stride_h, s.stride_w,
                                      geo.oh, geo.ow, y, kgn, a, kgn);
            break;
          case 2:
            ChannelLanesWeightTaps<2>(geo.crs, off.data(), xs, row, s.stride_h, s.stride_w,
                                      geo.oh, geo.ow, y, kgn, a, kgn);
            break;
          case 3:
            ChannelLanesWeightTaps<3>(geo.crs, off.data(), xs, row, s.stride_h, s.stride_w,
                                      geo.oh, geo.ow, y, kgn, a, kgn);
            break;
          default:
            ChannelLanesWeightTaps<4>(geo.crs, off.data(), xs, row, s.stride_h, s.stride_w,
                                      geo.oh, geo.ow, y, kgn, a, kgn);
            break;
        }
      }
    }
    float* target = partials.Weights(ichunk) + g * geo.kg * geo.crs;
    for (size_t k = 0; k < geo.kg; ++k) {
      float* HWY_RESTRICT trow = target + k * geo.crs;
      for (size_t crs = 0; crs < geo.crs; ++crs) trow[crs] += acc[crs * kgn + k];
    }
    if (float* btarget = partials.Bias(ichunk)) {
      for (size_t k = 0; k < geo.kg; ++k) btarget[g * geo.kg + k] += bias_acc[k];
    }
  });
  partials.AddToOutputs(pool);
}

// Pixel-rows forward tile: kC output channels x kR row segments of up to N output pixels
// (one vector each) in registers. Per tap (c, r, t): one unaligned load per segment from the
// padded input at seg_in[j] + off[tap], one broadcast weight per channel (wpack[tap * kC + i]),
// kC * kR FMAs. kC <= 8 and kC * kR within the register file: AVX-512 24, AVX2 / SSE4 12.
constexpr size_t kRowsAccVectors =
    HWY_TARGET == HWY_SCALAR ? 4 : HWY_TARGET <= HWY_AVX3 ? 24 : 12;
constexpr size_t kRowsMaxChannels = 8;

// Calls f(std::integral_constant<size_t, K>()) with K = k clamped to [K, kMax]: a run-time
// count as the template argument of a kernel.
template <size_t K, size_t kMax, class F>
HWY_INLINE void WithCount(size_t k, const F& f) {
  if constexpr (K < kMax) {
    if (k > K) {
      WithCount<K + 1, kMax>(k, f);
      return;
    }
  }
  f(std::integral_constant<size_t, K>());
}

template <size_t kC>
constexpr size_t RowsSegments() {
  return kRowsAccVectors / kC >= 4 ? 4 : kRowsAccVectors / kC >= 1 ? kRowsAccVectors / kC : 1;
}

// Returns RowsSegments<kc>() for a run-time kc in [1, 8].
inline size_t RowsSegmentsFor(size_t kc) {
  size_t kr = 1;
  WithCount<1, kRowsMaxChannels>(kc,
                                 [&](auto count) { kr = RowsSegments<decltype(count)::value>(); });
  return kr;
}

// Cuts segments [0, lo.size()) (in order) into tiles of 1 to kr consecutive segments, where
// segment j needs kernel rows [lo[j], hi[j]) and a tile computes the union of its segments'
// rows for every segment: returns the tiles' first segments (and lo.size() at the end),
// minimizing the FMAs of the tiles (a tile of len segments over u kernel rows costs u * len,
// one of a single segment 4/3 as much: its kc accumulator chains cannot hide the FMA latency)
// plus a small cost per tile. Zero-padded rows far from the image (the flipped forward of
// backward-data pads by kernel - 1) differ per output row: tiles of rows with like ranges, and
// no last tile of repeated segments.
inline std::vector<size_t> PixelRowsTiles(const std::vector<size_t>& lo,
                                          const std::vector<size_t>& hi, size_t kr) {
  const size_t n = lo.size();
  std::vector<size_t> best(n + 1, 0), from(n + 1, 0);
  for (size_t j = 1; j <= n; ++j) {
    best[j] = ~size_t{0};
    size_t u_lo = ~size_t{0}, u_hi = 0;
    for (size_t len = 1; len <= kr && len <= j; ++len) {
      const size_t i = j - len;  // the tile [i, j)
      u_lo = std::min(u_lo, lo[i]);
      u_hi = std::max(u_hi, hi[i]);
      const size_t rows = u_hi > u_lo ? u_hi - u_lo : 0;
      const size_t cost = best[i] + rows * len * (len == 1 ? 4 : 3) + 2;
      if (cost < best[j]) {
        best[j] = cost;
        from[j] = i;
      }
    }
  }
  std::vector<size_t> starts;
  for (size_t j = n; j > 0; j = from[j]) starts.push_back(from[j]);
  std::reverse(starts.begin(), starts.end());
  starts.push_back(n);
  return starts;
}

// Output segment j (j < segs <= kR) starts at seg_out[j] in output channel 0's plane (planes
// ldy apart) and has seg_len[j] <= N pixels; its inputs start at seg_in[j]. Segments past
// `segs` repeat segment 0 and are not stored. The taps are those of kernel rows [r0, r1) of
// each of the cg input channels (taps (c, r, t) = c * rs + r * kw + t, in crs order; the other
// rows read only padding for these segments). Stores act(sum + bias[i]) for channels
// i < channels (<= kC); bias may be null.
template <size_t kC, size_t kR>
HWY_NOINLINE void PixelRowsTile(size_t segs, const float* const* HWY_RESTRICT seg_in,
                                float* const* HWY_RESTRICT seg_out,
                                const size_t* HWY_RESTRICT seg_len, size_t cg, size_t rs,
                                size_t kw, size_t r0, size_t r1, const int32_t* HWY_RESTRICT off,
                                const float* HWY_RESTRICT wpack, size_t channels, size_t ldy,
                                const float* HWY_RESTRICT bias, bool relu) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  V acc[kC][kR];
  HWY_UNROLL(8)
  for (size_t i = 0; i < kC; ++i) {
    HWY_UNROLL(4)
    for (size_t j = 0; j < kR; ++j) acc[i][j] = hn::Zero(d);
  }
  const float* in[kR];
  HWY_UNROLL(4)
  for (size_t j = 0; j < kR; ++j) in[j] = seg_in[j < segs ? j : 0];
  for (size_t c = 0; c < cg; ++c) {
    const size_t tap_end = c * rs + r1 * kw;
    for (size_t tap = c * rs + r0 * kw; tap < tap_end; ++tap) {
      const int32_t o = off[tap];
      const float* HWY_RESTRICT wt = wpack + tap * kC;
      V xv[kR];
      HWY_UNROLL(4)
      for (size_t j = 0; j < kR; ++j) xv[j] = hn::LoadU(d, in[j] + o);
      HWY_UNROLL(8)
      for (size_t i = 0; i < kC; ++i) {
        const V wv = hn::Set(d, wt[i]);
        HWY_UNROLL(4)
        for (size_t j = 0; j < kR; ++j) acc[i][j] = hn::MulAdd(wv, xv[j], acc[i][j]);
      }
    }
  }
  const size_t N = hn::Lanes(d);
  for (size_t i = 0; i < channels; ++i) {
    const V b = hn::Set(d, bias != nullptr ? bias[i] : 0.0f);
    for (size_t j = 0; j < segs; ++j) {
      V v = hn::Add(acc[i][j], b);
      if (relu) v = hn::Max(v, hn::Zero(d));
      float* HWY_RESTRICT dst = seg_out[j] + i * ldy;
      if (seg_len[j] == N) {
        hn::StoreU(v, d, dst);
      } else {
        hn::BlendedStore(v, hn::FirstN(d, seg_len[j]), d, dst);
      }
    }
  }
}

// Forward convolution with stride_w 1 (any stride_h, padding, dilation, groups) for few output
// channels per group and short rows: each output row is cut into segments of up to N pixels
// (one vector; the last may be partial), and a tile keeps up to 8 output channels x up to 4
// segments in registers while every tap of the group's zero-padded input streams through: no
// im2col and no shifted copies (the padded image of a few channels stays in L1). Tasks are
// (image, group, segment chunk); weights are packed once per call as [group][channel block]
// [tap][kC]. Runs backward-data as the forward of the flipped weights (kFlippedForward).
inline void ConvForwardPixelRows(const Conv2dShape& s, const float* x, const float* w,
                                 const float* bias, float* y, bool relu, ThreadPool& pool) {
  const detail::ConvGeom geo(s);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  HWY_DASSERT(s.stride_w == 1);
  const size_t hp = s.in_h + 2 * s.pad_h, wp = s.in_w + 2 * s.pad_w, plane = hp * wp;
  // Channel blocks of kc <= 8: as even as possible (6 -> 6, 12 -> 6 + 6, 16 -> 8 + 8).
  const size_t cblocks = detail::DivCeil(geo.kg, kRowsMaxChannels);
  const size_t kc = detail::DivCeil(geo.kg, cblocks);
  const size_t seg_per_row = detail::DivCeil(geo.ow, N);
  const size_t nsegs = geo.oh * seg_per_row;
  std::vector<int32_t> off(geo.crs);
  for (size_t crs = 0; crs < geo.crs; ++crs) {
    const size_t c = crs / geo.rs, r = (crs % geo.rs) / s.kernel_w, t = crs % s.kernel_w;
    off[crs] = static_cast<int32_t>(c * plane + r * s.dilation_h * wp + t * s.dilation_w);
  }
  // wpack[g][block][tap][kc]: channel k = block * kc + i of the group (zero past kg).
  float* wpack = ConvScratch(ConvSlot::kWeights, s.groups * cblocks * geo.crs * kc);
  for (size_t g = 0; g < s.groups; ++g) {
    for (size_t blk = 0; blk < cblocks; ++blk) {
      float* dst = wpack + (g * cblocks + blk) * geo.crs * kc;
      for (size_t tap = 0; tap < geo.crs; ++tap) {
        for (size_t i = 0; i < kc; ++i) {
          const size_t k = blk * kc + i;
          dst[tap * kc + i] = k < geo.kg ? w[(g * geo.kg + k) * geo.crs + tap] : 0.0f;
        }
      }
    }
  }
  const bool parallel = detail::ConvParallel(s, pool);
  const size_t kr = RowsSegmentsFor(kc);
  // Kernel rows that reach the image (not only padding) for each segment: padded row
  // oh * stride_h + r * dilation_h in [pad_h, pad_h + in_h). The same for every image.
  std::vector<size_t> seg_lo(nsegs), seg_hi(nsegs);
  for (size_t j = 0; j < nsegs; ++j) {
    const size_t top = j / seg_per_row * s.stride_h, dh = s.dilation_h;
    const size_t end = s.pad_h + s.in_h;
    seg_lo[j] = std::min(s.kernel_h, top >= s.pad_h ? 0 : detail::DivCeil(s.pad_h - top, dh));
    seg_hi[j] = top >= end ? 0 : std::min(s.kernel_h, detail::DivCeil(end - top, dh));
  }
  const std::vector<size_t> starts = PixelRowsTiles(seg_lo, seg_hi, kr);
  const size_t tiles = starts.size() - 1;
  const size_t chunks = detail::UnitChunks(s, pool, parallel, tiles);
  detail::RunUnitChunks(s, pool, parallel, chunks, [&](size_t n, size_t g, size_t chunk) {
    const size_t t0 = tiles * chunk / chunks, t1 = tiles * (chunk + 1) / chunks;
    if (t1 <= t0) return;
    // The padded input, plus a vector of slack: the last segment's load may run past it.
    float* xpad = ConvScratch(ConvSlot::kPackB, geo.cg * plane + N);
    std::fill(xpad, xpad + geo.cg * plane + N, 0.0f);
    const float* xg = x + (n * s.in_channels + g * geo.cg) * geo.hw;
    for (size_t c = 0; c < geo.cg; ++c) {
      for (size_t i = 0; i < s.in_h; ++i) {
        CopyRow(xg + (c * s.in_h + i) * s.in_w, s.in_w,
                xpad + c * plane + (i + s.pad_h) * wp + s.pad_w);
      }
    }
    float* yg = y + (n * s.out_channels + g * geo.kg) * geo.p;
    const float* bg = bias != nullptr ? bias + g * geo.kg : nullptr;
    const float* seg_in[4];
    float* seg_out[4];
    size_t seg_len[4];
    for (size_t blk = 0; blk < cblocks; ++blk) {
      const float* wb = wpack + (g * cblocks + blk) * geo.crs * kc;
      const size_t channels = std::min(kc, geo.kg - blk * kc);
      float* yb = yg + blk * kc * geo.p;
      const float* bb = bg != nullptr ? bg + blk * kc : nullptr;
      for (size_t tile = t0; tile < t1; ++tile) {
        const size_t j0 = starts[tile], segs = starts[tile + 1] - j0;
        size_t r0 = s.kernel_h, r1 = 0;
        for (size_t j = 0; j < segs; ++j) {
          const size_t oh = (j0 + j) / seg_per_row, ow0 = (j0 + j) % seg_per_row * N;
          seg_in[j] = xpad + oh * s.stride_h * wp + ow0;
          seg_out[j] = yb + oh * geo.ow + ow0;
          seg_len[j] = std::min(N, geo.ow - ow0);
          r0 = std::min(r0, seg_lo[j0 + j]);
          r1 = std::max(r1, seg_hi[j0 + j]);
        }
        if (r1 < r0) r1 = r0;  // every row in the padding: bias only
        WithCount<1, kRowsMaxChannels>(kc, [&](auto count) {
          constexpr size_t K = decltype(count)::value;
          WithCount<1, RowsSegments<K>()>(segs, [&](auto seg_count) {
            constexpr size_t R = decltype(seg_count)::value;
            PixelRowsTile<K, R>(segs, seg_in, seg_out, seg_len, geo.cg, geo.rs, s.kernel_w, r0, r1,
                                off.data(), wb, channels, geo.p, bb, relu);
          });
        });
      }
    }
  });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV_SMALL_TOGGLE
