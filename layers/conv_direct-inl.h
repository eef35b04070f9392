// Per-target direct convolution on a zero-padded, stride-phase-split copy of the image (no
// im2col): the forward in its five block layouts, backward-data as the forward of the flipped
// weights, and the in-place transposed-GEMM weight gradient.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV_DIRECT_INL_H_
#define SIMDNET_LAYERS_CONV_DIRECT_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#endif  // SIMDNET_LAYERS_CONV_DIRECT_INL_H_

#if defined(SIMDNET_LAYERS_CONV_DIRECT_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV_DIRECT_TOGGLE
#undef SIMDNET_LAYERS_CONV_DIRECT_TOGGLE
#else
#define SIMDNET_LAYERS_CONV_DIRECT_TOGGLE
#endif

#include "hwy/highway.h"
#include "layers/conv_common-inl.h"
#include "tensor/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Computes y = act(conv(x, w) + bias) (any stride, padding, dilation, groups) directly
// from a PhasedLayout copy of each image (zero-padded, split by stride phase): output pixel
// (oh, ow) is virtual pixel q = oh * wq + ow, so tap (c, r, t) of a run of consecutive virtual
// pixels is a contiguous run of memory at a fixed offset. Virtual pixels with ow >= out_w (a
// (wq - out_w) / wq fraction) are computed and discarded. Tasks are
// (image, group, virtual-pixel chunk); weights are packed once per call.
// Requires: layout_kind is PlanDirectLayout(s) for this target (kDense needs stride 1; kFlat
// out_w == the virtual width; kPair out_w == N).
inline void ConvForwardDirect(const Conv2dShape& s, DirectLayout layout_kind, const float* x,
                              const float* w, const float* bias, float* y, bool relu,
                              ThreadPool& pool) {
  const detail::ConvGeom geo(s);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t NR = GemmNR();
  const PhasedLayout layout(s);
  const size_t wp = layout.wq;  // width of the virtual pixel grid
  const size_t rkg = detail::RoundUp(geo.kg, kGemmMR);
  float* wpack = ConvScratch(ConvSlot::kWeights, s.groups * rkg * geo.crs);
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
  // The block layout (PlanDirectLayout in conv_plan.cc says when each is chosen).
  const bool row_mode = layout_kind == DirectLayout::kRow;
  const bool dense_mode = layout_kind == DirectLayout::kDense;
  const bool flat_mode = layout_kind == DirectLayout::kFlat;
  const bool pair_mode = layout_kind == DirectLayout::kPair;
  const size_t row_blocks = detail::DivCeil(geo.ow, NR);
  if (row_mode) blocks = geo.oh * row_blocks;
  const DenseShifted shifted(s, layout);
  const std::vector<int32_t> dense_off =
      dense_mode ? shifted.Offsets(s, geo) : std::vector<int32_t>();
  if (dense_mode) blocks = detail::DivCeil(geo.p, NR);
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
  const bool parallel = detail::ConvParallel(s, pool);
  const size_t chunks = detail::UnitChunks(s, pool, parallel, blocks);
  detail::RunUnitChunks(s, pool, parallel, chunks, [&](size_t n, size_t g, size_t chunk) {
    const size_t b0 = blocks * chunk / chunks, b1 = blocks * (chunk + 1) / chunks;
    if (b1 <= b0) return;
    float* xpad =
        ConvScratch(ConvSlot::kPackB, geo.cg * layout.channel_size + slack);
    layout.Fill(s, x + (n * s.in_channels + g * geo.cg) * geo.hw, geo.cg, slack, xpad);
    float* xs = nullptr;
    if (dense_mode) {
      xs = ConvScratch(ConvSlot::kPackA, shifted.floats + 2 * NR);
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
          MicroKernel<kGemmMR, false>(1, geo.crs, PackedA{wg + is * geo.crs},
                                      OffsetB{xpad + oh * wp + ow0, off.data(), N},
                                      yg + is * geo.p + oh * geo.ow + ow0, geo.p, rows,
                                      std::min(NR, geo.ow - ow0), ep);
          continue;
        }
        if (pair_mode) {
          const size_t oh = 2 * blk;
          MicroKernel<kGemmMR, false>(1, geo.crs, PackedA{wg + is * geo.crs},
                                      OffsetB{xpad + oh * wp, off.data(), wp},
                                      yg + is * geo.p + oh * N, geo.p, rows,
                                      oh + 1 < geo.oh ? NR : N, ep);
          continue;
        }
        const size_t q0 = blk * NR;
        if (dense_mode || flat_mode) {  // NR consecutive outputs, from the copies or in place
          MicroKernel<kGemmMR, false>(
              1, geo.crs, PackedA{wg + is * geo.crs},
              OffsetB{(dense_mode ? xs : xpad) + q0, dense_mode ? dense_off.data() : off.data(),
                      N},
              yg + is * geo.p + q0, geo.p, rows, std::min(NR, geo.p - q0), ep);
          continue;
        }
        // The whole tile (all kGemmMR rows, NR columns) to the buffer, then the real outputs.
        MicroKernel<kGemmMR, false>(1, geo.crs, PackedA{wg + is * geo.crs},
                                    OffsetB{xpad + q0, off.data(), N}, tile, NR, kGemmMR, NR,
                                    TileEpilogue{0.0f, nullptr, false});
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
  const size_t img_chunks = WeightGradImageChunks(s, parallel, threads);
  const ChunkPartials partials(s, img_chunks, dw, dbias);
  const GemmD d;
  const size_t N = hn::Lanes(d);
  detail::RunTasks(pool, parallel, s.groups * img_chunks, [&](uint64_t task, size_t) {
    const size_t ichunk = task % img_chunks, g = task / img_chunks;
    const size_t n0 = s.batch * ichunk / img_chunks, n1 = s.batch * (ichunk + 1) / img_chunks;
    if (n1 <= n0) return;
    // acc: crs x rkg transposed dW, then kg bias sums.
    float* acc = ConvScratch(ConvSlot::kAcc, geo.crs * rkg + geo.kg);
    std::fill(acc, acc + geo.crs * rkg + geo.kg, 0.0f);
    float* bias_acc = acc + geo.crs * rkg;
    float* xpad = ConvScratch(ConvSlot::kPackB, geo.cg * layout.channel_size);
    float* bpack = ConvScratch(ConvSlot::kPackA, geo.p * rkg);
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
      InPlaceRowsA arows{{}, wp, 0};
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
                arows.rows[r] = xpad + off[is + (r < rows ? r : 0)] + oh0 * wp + ow0;
              }
              MicroKernelRows<kGemmMR, false>(nseg, kc, arows, PackedB{bp}, acc + is * rkg + js,
                                              rkg, rows, cols, ep);
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

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV_DIRECT_TOGGLE
