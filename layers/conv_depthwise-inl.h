// Per-target depthwise convolution (groups == in_channels == out_channels): each channel plane
// is convolved with its own R x S taps, vectorized along the output pixels of the zero-padded,
// stride-phase-split plane (conv_common-inl.h PhasedLayout), in all three passes. The GEMM
// paths would fill one row of their kGemmMR-row register tile per group.

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
      blocks.push_back({static_cast<uint32_t>(q), static_cast<uint32_t>(q),
                        static_cast<uint32_t>(N)});
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

// Computes y = act(conv(x, w) + bias) for a depthwise shape. With flip_taps, tap t of each
// channel uses w[R*S - 1 - t] (the spatially flipped kernel: backward-data as a forward).
// Planes are independent tasks; four blocks at a time keep four FMA chains in flight.
inline void ConvForwardDepthwise(const Conv2dShape& s, const float* x, const float* w,
                                 const float* bias, float* y, bool relu, ThreadPool& pool,
                                 bool flip_taps = false) {
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

// Computes dx for a depthwise shape. Stride 1 with padding within the kernel's reach: the
// forward of dy with the flipped taps (FlippedConvShape). Otherwise each dy vector is
// multiplied by each tap and added into the channel's zero-padded, phase-split accumulator at
// the tap's offset (contiguous for any stride), which is then cropped into dx.
inline void ConvBackwardDataDepthwise(const Conv2dShape& s, const float* dy, const float* w,
                                      float* dx, ThreadPool& pool) {
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

// Most taps whose partial sums stay in registers in the weight gradient.
constexpr size_t kDepthwiseMaxTaps = 9;

// Accumulates dw (and dbias) for a depthwise shape: per channel (one task per channel range,
// so sums do not depend on the thread count), vector partial sums of dy * x for up to
// kDepthwiseMaxTaps taps at a time over every image and output pixel, dy read once per vector
// for all of them and for the bias sum.
inline void ConvBackwardWeightsDepthwise(const Conv2dShape& s, const float* x, const float* dy,
                                         float* dw, float* dbias, ThreadPool& pool) {
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
