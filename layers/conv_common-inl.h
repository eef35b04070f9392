// Per-target building blocks shared by the convolution families: geometry, scratch slots,
// row copies, the zero-padded phase-split image layout, per-chunk partial gradients, a
// blocked transpose and the bias gradient.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV_COMMON_INL_H_
#define SIMDNET_LAYERS_CONV_COMMON_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "layers/conv2d_kernels.h"
#include "tensor/gemm-inl.h"  // DivCeil, RoundUp, kMinParallelMacs
#include "tensor/thread_pool.h"
#include "tensor/thread_scratch.h"

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

// Returns whether a pass of s has enough multiply-adds (kMinParallelMacs) to wake the workers.
inline bool ConvParallel(const Conv2dShape& s, ThreadPool& pool) {
  const ConvGeom geo(s);
  return pool.NumThreads() > 1 &&
         s.batch * s.out_channels * geo.p * geo.crs >= kMinParallelMacs;
}

// Returns how many pieces each (image, group) unit of s is split into: 1, or, with fewer than
// two units per thread, enough for two tasks per thread but at most max_chunks.
inline size_t UnitChunks(const Conv2dShape& s, ThreadPool& pool, bool parallel,
                         size_t max_chunks) {
  const size_t units = s.batch * s.groups, threads = pool.NumThreads();
  if (!parallel || units >= 2 * threads) return 1;
  return std::min(max_chunks, DivCeil(2 * threads, units));
}

// Runs fn(n, g, chunk) for every image n, group g and chunk < chunks, one task each (on the
// pool when `parallel`).
inline void RunUnitChunks(const Conv2dShape& s, ThreadPool& pool, bool parallel, size_t chunks,
                          const std::function<void(size_t, size_t, size_t)>& fn) {
  RunTasks(pool, parallel, s.batch * s.groups * chunks, [&](uint64_t task, size_t) {
    const size_t unit = task / chunks;
    fn(unit / s.groups, unit % s.groups, task % chunks);
  });
}

}  // namespace detail

// The convolution kernels' scratch slots; each thread owns one grow-only buffer per slot
// (tensor/thread_scratch.h). Users that can be live at the same time on one thread use
// distinct slots. "Caller's slot": filled by the calling thread and shared by all tasks.
enum class ConvSlot : size_t {
  kPackA,           // per task: packed dy (weight gradients), shifted image copies (direct)
  kPackB,           // per task: packed im2col panel, padded image, Winograd transforms
  kWeights,         // caller's slot: packed weights shared by all tasks
  kFlippedWeights,  // caller's slot: flipped, transposed weights for backward-data
  kColumns,         // per task: backward-data column buffer; Winograd dy^T
  kPartials,        // caller's slot: per-chunk partial weight gradients
  kAcc,             // per task: weight-gradient accumulators, Winograd GEMM results
  kRows,            // per task: staging rows (Winograd transforms, dy tails)
  kPlanes,          // per task: Winograd zero-padded input rows or dx planes
  kNumSlots
};

// Returns this thread's buffer `slot` with room for at least n floats (contents unspecified).
inline float* ConvScratch(ConvSlot slot, size_t n) { return detail::ThreadScratch(slot, n); }

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV_COMMON_INL_H_

#if defined(SIMDNET_LAYERS_CONV_COMMON_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV_COMMON_TOGGLE
#undef SIMDNET_LAYERS_CONV_COMMON_TOGGLE
#else
#define SIMDNET_LAYERS_CONV_COMMON_TOGGLE
#endif

#include "hwy/highway.h"
#include "tensor/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// RowTail's step: copies (kZero: zeroes) kLanes floats at *i if at least that many of [*i, r)
// remain, and advances *i past them.
template <size_t kLanes, bool kZero>
HWY_INLINE void RowTailVector(const float* HWY_RESTRICT src, size_t r, float* HWY_RESTRICT dst,
                              size_t* i) {
  if (r - *i < kLanes) return;
  const hn::CappedTag<float, kLanes> dn;
  hn::StoreU(kZero ? hn::Zero(dn) : hn::LoadU(dn, src + *i), dn, dst + *i);
  *i += kLanes;
}

// dst[0, r) = src[0, r) (kZero: = 0, src unused) for the r < Lanes(GemmD) floats past a row's
// whole vectors, with vectors of 8 and 4 lanes where the target has them and at most 3 scalars:
// straight-line code, which the compiler does not turn into a library call (as a loop it became
// a memmove or memset call per row; in vgg-small's Winograd input copies that was 2.3% of a
// training step).
template <bool kZero>
HWY_INLINE void RowTail(const float* HWY_RESTRICT src, size_t r, float* HWY_RESTRICT dst) {
  size_t i = 0;
#if HWY_MAX_BYTES >= 64
  RowTailVector<8, kZero>(src, r, dst, &i);
#endif
#if HWY_MAX_BYTES >= 32
  RowTailVector<4, kZero>(src, r, dst, &i);
#endif
  if (r - i >= 2) {
    dst[i] = kZero ? 0.0f : src[i];
    dst[i + 1] = kZero ? 0.0f : src[i + 1];
    i += 2;
  }
  if (r - i >= 1) dst[i] = kZero ? 0.0f : src[i];
}

// dst[0, n) = src[0, n) with whole vectors and RowTail (never reads past src + n). The rows
// copied here are 1-2 cache lines, where a memcpy call costs as much as the copy.
HWY_INLINE void CopyRow(const float* HWY_RESTRICT src, size_t n, float* HWY_RESTRICT dst) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  RowTail<false>(src + i, n - i, dst + i);
}

// dst[0, n) = 0 as CopyRow copies, for the short zero runs of padded rows (a memset call each).
HWY_INLINE void ZeroRow(size_t n, float* HWY_RESTRICT dst) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Zero(d), d, dst + i);
  RowTail<true>(nullptr, n - i, dst + i);
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

// The number of image chunks a weight-gradient kernel splits the batch into (one ChunkPartials
// slot each): one per thread when the groups alone cannot keep the threads busy, else 1.
HWY_INLINE size_t WeightGradImageChunks(const Conv2dShape& s, bool parallel, size_t threads) {
  return parallel && s.groups < 2 * threads ? std::min(s.batch, threads) : 1;
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
      partial_ = ConvScratch(ConvSlot::kPartials, n);
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

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV_COMMON_TOGGLE
