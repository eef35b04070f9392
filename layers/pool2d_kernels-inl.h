// Per-target pooling kernels: max (with argmax) and average pooling over NCHW planes. Forward
// passes vectorize over output columns whose windows lie inside the input (contiguous loads
// for stride 1, deinterleaving loads for stride 2, gathers otherwise); the few border columns
// use the same window loop in scalar form. Backward passes scatter per plane.

#ifndef SIMDNET_LAYERS_POOL2D_KERNELS_INL_H_
#define SIMDNET_LAYERS_POOL2D_KERNELS_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "layers/pool2d_kernels.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace detail {

// Runs fn(plane0, plane1) over slices of [0, planes), on the pool when the work is large enough
// to pay for waking the workers. Slices depend only on `planes` and the thread count.
inline void ForEachPlaneSlice(ThreadPool& pool, size_t planes, size_t work_per_plane,
                              const std::function<void(size_t, size_t)>& fn) {
  const size_t threads = pool.NumThreads();
  if (threads == 1 || planes * work_per_plane < (size_t{1} << 16) || planes == 1) {
    fn(0, planes);
    return;
  }
  const size_t tasks = std::min(planes, threads * 4);
  pool.ParallelFor(tasks, [&](uint64_t task, size_t) {
    fn(planes * task / tasks, planes * (task + 1) / tasks);
  });
}

// Output columns [lo, hi) whose windows lie entirely inside the input horizontally.
inline void InteriorColumns(const Pool2dShape& s, size_t* lo, size_t* hi) {
  const size_t ow_n = s.out_w();
  *lo = std::min(ow_n, (s.pad_w + s.stride_w - 1) / s.stride_w);
  *hi = s.in_w + s.pad_w >= s.kernel_w
            ? std::min(ow_n, (s.in_w + s.pad_w - s.kernel_w) / s.stride_w + 1)
            : 0;
  *hi = std::max(*hi, *lo);
}

}  // namespace detail
}  // namespace simdnet

#endif  // SIMDNET_LAYERS_POOL2D_KERNELS_INL_H_

#if defined(SIMDNET_LAYERS_POOL2D_KERNELS_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_POOL2D_KERNELS_TOGGLE
#undef SIMDNET_LAYERS_POOL2D_KERNELS_TOGGLE
#else
#define SIMDNET_LAYERS_POOL2D_KERNELS_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Pools output row oh of one plane. kMax selects max (+argmax, may be null) or average.
template <bool kMax>
HWY_INLINE void PoolRow(const Pool2dShape& s, const float* HWY_RESTRICT x, size_t oh,
                        float* HWY_RESTRICT y, int32_t* HWY_RESTRICT argmax,
                        bool count_include_pad, size_t ow_lo, size_t ow_hi) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t N = hn::Lanes(df);
  const long in_h = static_cast<long>(s.in_h), in_w = static_cast<long>(s.in_w);
  const long h0 = static_cast<long>(oh * s.stride_h) - static_cast<long>(s.pad_h);
  const size_t r_lo = static_cast<size_t>(std::max(0L, -h0));
  const size_t r_hi = static_cast<size_t>(
      std::max(0L, std::min(static_cast<long>(s.kernel_h), in_h - h0)));
  const size_t rows = r_hi > r_lo ? r_hi - r_lo : 0;

  // One output column, any position (borders and the tail of the interior).
  auto scalar_column = [&](size_t ow) {
    const long w0 = static_cast<long>(ow * s.stride_w) - static_cast<long>(s.pad_w);
    const size_t t_lo = static_cast<size_t>(std::max(0L, -w0));
    const size_t t_hi = static_cast<size_t>(
        std::max(0L, std::min(static_cast<long>(s.kernel_w), in_w - w0)));
    float acc = 0.0f;
    int32_t best_i = 0;
    bool first = true;
    for (size_t r = r_lo; r < r_hi; ++r) {
      const long ih = h0 + static_cast<long>(r);
      for (size_t t = t_lo; t < t_hi; ++t) {
        const long i = ih * in_w + w0 + static_cast<long>(t);
        const float v = x[i];
        if (kMax) {
          if (first || v > acc) {
            acc = v;
            best_i = static_cast<int32_t>(i);
          }
          first = false;
        } else {
          acc += v;
        }
      }
    }
    if (kMax) {
      y[ow] = acc;
      if (argmax != nullptr) argmax[ow] = best_i;
    } else {
      const size_t div = count_include_pad
                             ? s.kernel_h * s.kernel_w
                             : rows * (t_hi > t_lo ? t_hi - t_lo : 0);
      y[ow] = acc / static_cast<float>(div);
    }
  };

  size_t ow = 0;
  for (; ow < ow_lo; ++ow) scalar_column(ow);
  const auto lane_step =
      hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<int32_t>(s.stride_w)));
  const float inv_div =
      1.0f / static_cast<float>(count_include_pad ? s.kernel_h * s.kernel_w : rows * s.kernel_w);
  // Stride 2: taps (t, t + 1) of N outputs are the even / odd lanes of one deinterleaving load
  // at column w0 + t (gathers cost several times more on AMD Zen). The load of the last tap
  // pair reads up to column w0 + 2N + kernel_w - 2 (one past the window when kernel_w is odd),
  // so vectors start at most at v_last; the last vector may overlap the previous one (it
  // recomputes equal outputs) instead of leaving N - 1 columns to the scalar loop.
  const bool pairs = s.stride_w == 2;
  const long t_pair_max = static_cast<long>((s.kernel_w - 1) / 2 * 2);
  const long reach = static_cast<long>(in_w + s.pad_w) - t_pair_max - 2 * static_cast<long>(N);
  size_t v_last = ow_hi >= N ? ow_hi - N : 0;
  if (pairs) v_last = reach < 0 ? 0 : std::min(v_last, static_cast<size_t>(reach / 2));
  const bool any_vector = ow_hi >= ow_lo + N && v_last >= ow_lo;
  auto vector_columns = [&](size_t ow0) {
    const long w0 = static_cast<long>(ow0 * s.stride_w) - static_cast<long>(s.pad_w);
    auto acc = hn::Zero(df);
    auto best_i = hn::Zero(di);
    bool first = true;
    auto take = [&](hn::Vec<decltype(df)> v, long base) {
      if (kMax) {
        const auto idx = hn::Add(hn::Set(di, static_cast<int32_t>(base)), lane_step);
        if (first) {
          acc = v;
          best_i = idx;
          first = false;
        } else {
          const auto greater = hn::Gt(v, acc);
          acc = hn::IfThenElse(greater, v, acc);
          best_i = hn::IfThenElse(hn::RebindMask(di, greater), idx, best_i);
        }
      } else {
        acc = hn::Add(acc, v);
      }
    };
    for (size_t r = r_lo; r < r_hi; ++r) {
      const long row = (h0 + static_cast<long>(r)) * in_w + w0;
      if (pairs) {
        for (size_t t = 0; t < s.kernel_w; t += 2) {
          const long base = row + static_cast<long>(t);
          hn::Vec<decltype(df)> even, odd;
          hn::LoadInterleaved2(df, x + base, even, odd);
          take(even, base);
          if (t + 1 < s.kernel_w) take(odd, base + 1);
        }
        continue;
      }
      for (size_t t = 0; t < s.kernel_w; ++t) {
        const long base = row + static_cast<long>(t);
        take(s.stride_w == 1 ? hn::LoadU(df, x + base) : hn::GatherIndex(df, x + base, lane_step),
             base);
      }
    }
    if (kMax) {
      hn::StoreU(acc, df, y + ow0);
      if (argmax != nullptr) hn::StoreU(best_i, di, argmax + ow0);
    } else {
      hn::StoreU(hn::Mul(acc, hn::Set(df, inv_div)), df, y + ow0);
    }
  };
  if (any_vector) {
    for (;; ow += N) {
      ow = std::min(ow, v_last);
      vector_columns(ow);
      if (ow == v_last) break;
    }
    ow += N;
  }
  for (; ow < s.out_w(); ++ow) scalar_column(ow);
}

// Pools output row oh of one plane for 2x2 windows with stride 2 and no padding (the common
// downsampling pool; callers pool a plane's rows in increasing oh, see the stores below): N
// outputs per step from deinterleaving loads (even / odd columns) of the two input rows, also
// when a row has fewer than N outputs (the loads then run into the next row; near x_end, the
// end of the whole input, they go through a buffer instead).
// kIdx false (max pooling without argmax, i.e. inference): the same maxima without the index
// bookkeeping. `pre` maps each loaded vector of inputs to the values pooled (a fused activation,
// see AffineActMaxPoolChannel); lanes past the row's end it maps are discarded.
struct PoolIdentity {
  template <class V>
  HWY_INLINE V operator()(V v) const {
    return v;
  }
};
template <bool kMax, bool kIdx = kMax, class Pre = PoolIdentity>
HWY_INLINE void PoolRow2x2Stride2(const Pool2dShape& s, const float* HWY_RESTRICT x,
                                  const float* x_end, size_t oh, float* HWY_RESTRICT y,
                                  int32_t* HWY_RESTRICT argmax, const Pre& pre = Pre()) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  using V = hn::Vec<decltype(df)>;
  const size_t N = hn::Lanes(df);
  const size_t ow_n = s.out_w(), in_w = s.in_w;
  const float* r0 = x + 2 * oh * in_w;
  const float* r1 = r0 + in_w;
  const auto lane2 = hn::Mul(hn::Iota(di, 0), hn::Set(di, 2));
  HWY_ALIGN float buf[2][2 * hn::MaxLanes(hn::ScalableTag<float>())];
  for (size_t ow = 0; ow < ow_n; ow += N) {
    const size_t cnt = std::min(N, ow_n - ow);
    const float* p0 = r0 + 2 * ow;
    const float* p1 = r1 + 2 * ow;
    if (p1 + 2 * N > x_end) {
      std::fill(&buf[0][0], &buf[0][0] + 4 * N, 0.0f);
      std::copy(p0, p0 + 2 * cnt, buf[0]);
      std::copy(p1, p1 + 2 * cnt, buf[1]);
      p0 = buf[0];
      p1 = buf[1];
    }
    V a, b, c, e;
    hn::LoadInterleaved2(df, p0, a, b);
    hn::LoadInterleaved2(df, p1, c, e);
    a = pre(a);
    b = pre(b);
    c = pre(c);
    e = pre(e);
    V acc;
    hn::Vec<decltype(di)> idx;
    if (kMax) {
      // Window order (0,0), (0,1), (1,0), (1,1); a later value wins only if strictly greater.
      const auto i00 =
          hn::Add(hn::Set(di, static_cast<int32_t>(2 * oh * in_w + 2 * ow)), lane2);
      const auto i10 = hn::Add(i00, hn::Set(di, static_cast<int32_t>(in_w)));
      const auto one = hn::Set(di, 1);
      acc = a;
      idx = i00;
      // Spelled out: arrays of the candidates were kept on the stack, and each 512-bit reload
      // from there waited for store forwarding (half the time of the row on Zen 5).
      const auto take = [&](V cand, hn::Vec<decltype(di)> cand_i) {
        const auto greater = hn::Gt(cand, acc);
        acc = hn::IfThenElse(greater, cand, acc);
        if (kIdx) idx = hn::IfThenElse(hn::RebindMask(di, greater), cand_i, idx);
      };
      take(b, hn::Add(i00, one));
      take(c, i10);
      take(e, hn::Add(i10, one));
    } else {
      acc = hn::Mul(hn::Add(hn::Add(a, b), hn::Add(c, e)), hn::Set(df, 0.25f));
    }
    // A row's last vector may hold fewer than N outputs (14 on 28x28 with AVX-512, every row).
    // Unless the row is the plane's last, its surplus lanes land in the next row, which the
    // caller writes afterwards (rows in increasing oh) from its start: a whole store, twice as
    // fast as the masked one on Zen 5.
    if (cnt == N || (oh + 1 < s.out_h() && N - cnt <= ow_n)) {
      hn::StoreU(acc, df, y + ow);
      if (kIdx && argmax != nullptr) hn::StoreU(idx, di, argmax + ow);
    } else {
      // A masked store writes nothing past cnt.
      hn::BlendedStore(acc, hn::FirstN(df, cnt), df, y + ow);
      if (kIdx && argmax != nullptr) hn::BlendedStore(idx, hn::FirstN(di, cnt), di, argmax + ow);
    }
  }
}

// Forward pooling over all planes (MaxPool2dForward / AvgPool2dForward contracts).
template <bool kMax>
void PoolForwardImpl(const Pool2dShape& s, const float* x, float* y, int32_t* argmax,
                     bool count_include_pad, ThreadPool& pool) {
  const size_t oh_n = s.out_h(), ow_n = s.out_w(), hw = s.in_h * s.in_w;
  size_t ow_lo, ow_hi;
  detail::InteriorColumns(s, &ow_lo, &ow_hi);
  const bool window2x2 = s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 &&
                         s.stride_w == 2 && s.pad_h == 0 && s.pad_w == 0;
  const float* x_end = x + s.batch * s.channels * hw;
  detail::ForEachPlaneSlice(
      pool, s.batch * s.channels, oh_n * ow_n * s.kernel_h * s.kernel_w,
      [&](size_t p0, size_t p1) {
        for (size_t plane = p0; plane < p1; ++plane) {
          for (size_t oh = 0; oh < oh_n; ++oh) {
            const size_t o = (plane * oh_n + oh) * ow_n;
            if (window2x2) {
              if (kMax && argmax == nullptr) {
                PoolRow2x2Stride2<kMax, false>(s, x + plane * hw, x_end, oh, y + o, nullptr);
              } else {
                PoolRow2x2Stride2<kMax>(s, x + plane * hw, x_end, oh, y + o,
                                        argmax != nullptr ? argmax + o : nullptr);
              }
              continue;
            }
            PoolRow<kMax>(s, x + plane * hw, oh, y + o, argmax != nullptr ? argmax + o : nullptr,
                          count_include_pad, ow_lo, ow_hi);
          }
        }
      });
}

// dx = dy scattered to the argmax positions (MaxPool2dBackward contract).
inline void MaxPoolBackwardImpl(const Pool2dShape& s, const float* dy, const int32_t* argmax,
                                float* dx, ThreadPool& pool) {
  const size_t p = s.out_h() * s.out_w(), hw = s.in_h * s.in_w;
  detail::ForEachPlaneSlice(pool, s.batch * s.channels, p + hw, [&](size_t p0, size_t p1) {
    std::fill(dx + p0 * hw, dx + p1 * hw, 0.0f);
    for (size_t plane = p0; plane < p1; ++plane) {
      float* HWY_RESTRICT dxp = dx + plane * hw;
      const float* HWY_RESTRICT dyp = dy + plane * p;
      const int32_t* HWY_RESTRICT ap = argmax + plane * p;
      for (size_t i = 0; i < p; ++i) dxp[ap[i]] += dyp[i];
    }
  });
}

// dx = each dy / divisor added over its window (AvgPool2dBackward contract).
inline void AvgPoolBackwardImpl(const Pool2dShape& s, const float* dy, float* dx,
                                bool count_include_pad, ThreadPool& pool) {
  const size_t oh_n = s.out_h(), ow_n = s.out_w(), hw = s.in_h * s.in_w;
  const long in_h = static_cast<long>(s.in_h), in_w = static_cast<long>(s.in_w);
  detail::ForEachPlaneSlice(
      pool, s.batch * s.channels, oh_n * ow_n * s.kernel_h * s.kernel_w,
      [&](size_t p0, size_t p1) {
        std::fill(dx + p0 * hw, dx + p1 * hw, 0.0f);
        for (size_t plane = p0; plane < p1; ++plane) {
          float* HWY_RESTRICT dxp = dx + plane * hw;
          for (size_t oh = 0; oh < oh_n; ++oh) {
            const long h0 = static_cast<long>(oh * s.stride_h) - static_cast<long>(s.pad_h);
            const long r_lo = std::max(0L, h0);
            const long r_hi = std::min(in_h, h0 + static_cast<long>(s.kernel_h));
            for (size_t ow = 0; ow < ow_n; ++ow) {
              const long w0 = static_cast<long>(ow * s.stride_w) - static_cast<long>(s.pad_w);
              const long t_lo = std::max(0L, w0);
              const long t_hi = std::min(in_w, w0 + static_cast<long>(s.kernel_w));
              const size_t div = count_include_pad
                                     ? s.kernel_h * s.kernel_w
                                     : static_cast<size_t>((r_hi - r_lo) * (t_hi - t_lo));
              const float g = dy[(plane * oh_n + oh) * ow_n + ow] / static_cast<float>(div);
              for (long ih = r_lo; ih < r_hi; ++ih) {
                for (long iw = t_lo; iw < t_hi; ++iw) dxp[ih * in_w + iw] += g;
              }
            }
          }
        }
      });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_POOL2D_KERNELS_TOGGLE
