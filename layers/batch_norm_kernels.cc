// Dispatch table for layers/batch_norm_kernels.h, and the channel-block split across the pool.
#include "layers/batch_norm_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "tensor/simd_targets.h"  // must precede foreach_target (target policy)

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/batch_norm_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "layers/batch_norm_kernels-inl.h"
#include "tensor/thread_scratch.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void ChannelSumsT(const float* x, size_t n, size_t c, size_t s, size_t c0, size_t c1, float* sums) {
  ChannelReduce<false>(x, nullptr, x, nullptr, n, c, s, c0, c1, sums);
}
void ChannelCenteredDotsT(const float* a, const float* ca, const float* b, const float* cb,
                          size_t n, size_t c, size_t s, size_t c0, size_t c1, float* out) {
  ChannelReduce<true>(a, ca, b, cb, n, c, s, c0, c1, out);
}
void ChannelAffineT(const float* x, const float* scale, const float* shift, size_t n, size_t c,
                    size_t s, size_t c0, size_t c1, float* y) {
  ChannelAffineRange<false>(x, scale, nullptr, nullptr, shift, n, c, s, c0, c1, y);
}
void ChannelAffine2T(const float* u, const float* a, const float* v, const float* b, const float* d,
                     size_t n, size_t c, size_t s, size_t c0, size_t c1, float* out) {
  ChannelAffineRange<true>(u, a, v, b, d, n, c, s, c0, c1, out);
}

// Calls f(std::integral_constant<BatchNormActivation, act>()): the kernels are instantiated per
// activation, so the per-element code has no branch on it.
template <class F>
HWY_INLINE void WithActivation(BatchNormActivation act, const F& f) {
  using A = BatchNormActivation;
  switch (act) {
    case A::kNone:
      return f(std::integral_constant<A, A::kNone>());
    case A::kRelu:
      return f(std::integral_constant<A, A::kRelu>());
    case A::kRelu6:
      return f(std::integral_constant<A, A::kRelu6>());
  }
}

// Channel ch's batch statistics (the mean, then the centered sum of squares) as the affine
// y = scale * x + shift of the training forward.
HWY_INLINE void TrainScaleShift(const float* x, size_t n, size_t c, size_t s, size_t ch,
                                const BatchNormChannelStats& stats, float* scale, float* shift) {
  const float mean = stats.Mean(ch, ChannelReduceRows<false>(x, 0.0f, x, 0.0f, n, c, s, ch));
  stats.ScaleShift(ch, ChannelReduceRows<true>(x, mean, x, mean, n, c, s, ch), scale, shift);
}

void ChannelAffineActT(const float* x, const float* scale, const float* shift,
                       BatchNormActivation act, size_t n, size_t c, size_t s, size_t c0, size_t c1,
                       float* y) {
  WithActivation(act, [&](auto kind) {
    ChannelAffineRange<false, decltype(kind)::value>(x, scale, nullptr, nullptr, shift, n, c, s,
                                                     c0, c1, y);
  });
}

// Runs ChannelBackwardSums<act>.
void BackwardSumsRange(const float* dy, const float* y, BatchNormActivation act, const float* x,
                       const float* mean, size_t n, size_t c, size_t s, size_t c0, size_t c1,
                       float* sum_g, float* sum_gxc) {
  WithActivation(act, [&](auto kind) {
    constexpr BatchNormActivation kAct = decltype(kind)::value;
    ChannelBackwardSums<kAct>(dy, kAct == BatchNormActivation::kNone ? nullptr : y, x, mean, n, c,
                              s, c0, c1, sum_g, sum_gxc);
  });
}

// Runs ChannelAffineRange<true, kNone, act> (dx = a * g + b * v + d with g masked by act).
void Affine2MaskedRange(const float* u, const float* mask, BatchNormActivation act,
                        const float* a, const float* v, const float* b, const float* d, size_t n,
                        size_t c, size_t s, size_t c0, size_t c1, float* out) {
  WithActivation(act, [&](auto kind) {
    constexpr BatchNormActivation kAct = decltype(kind)::value;
    ChannelAffineRange<true, BatchNormActivation::kNone, kAct>(
        u, a, v, b, d, n, c, s, c0, c1, out, kAct == BatchNormActivation::kNone ? nullptr : mask);
  });
}

void ChannelBackwardSumsT(const float* dy, const float* y, BatchNormActivation act, const float* x,
                          const float* mean, size_t n, size_t c, size_t s, size_t c0, size_t c1,
                          float* sum_g, float* sum_gxc) {
  BackwardSumsRange(dy, y, act, x, mean, n, c, s, c0, c1, sum_g, sum_gxc);
}
void ChannelAffine2MaskedT(const float* u, const float* mask, BatchNormActivation act,
                           const float* a, const float* v, const float* b, const float* d,
                           size_t n, size_t c, size_t s, size_t c0, size_t c1, float* out) {
  Affine2MaskedRange(u, mask, act, a, v, b, d, n, c, s, c0, c1, out);
}

void TrainForwardT(const float* x, size_t n, size_t c, size_t s, size_t c0, size_t c1,
                   const BatchNormChannelStats& stats, BatchNormActivation act, float* y) {
  for (size_t ch = c0; ch < c1; ++ch) {
    float scale, shift;
    TrainScaleShift(x, n, c, s, ch, stats, &scale, &shift);
    WithActivation(act, [&](auto kind) {
      ChannelAffineOne<decltype(kind)::value>(x, scale, shift, n, c, s, ch, y);
    });
  }
}

void TrainBackwardT(const float* dy, const float* act_y, BatchNormActivation act, const float* x,
                    const float* mean, const float* a, const float* b, const float* d, size_t n,
                    size_t c, size_t s, size_t c0, size_t c1, const BatchNormBackwardCoefs& coefs,
                    float* sum_g, float* sum_gxc, float* dx) {
  for (size_t ch = c0; ch < c1; ++ch) {
    BackwardSumsRange(dy, act_y, act, x, mean, n, c, s, ch, ch + 1, sum_g, sum_gxc);
    coefs.Coefs(ch, sum_g[ch], sum_gxc[ch]);
    Affine2MaskedRange(dy, act_y, act, a, x, b, d, n, c, s, ch, ch + 1, dx);
  }
}

void TrainBackwardFromInputT(const float* dy, BatchNormActivation act, const float* act_scale,
                             const float* act_shift, const float* x, const float* mean,
                             const float* a, const float* b, const float* d, size_t n, size_t c,
                             size_t s, size_t c0, size_t c1, const BatchNormBackwardCoefs& coefs,
                             float* sum_g, float* sum_gxc, float* dx) {
  const hn::ScalableTag<float> df;
  const size_t bytes = s * sizeof(float);
  WithActivation(act, [&](auto kind) {
    constexpr BatchNormActivation kAct = decltype(kind)::value;
    for (size_t ch = c0; ch < c1; ++ch) {
      // TrainBackwardT's two passes (BackwardSumsRange, Affine2MaskedRange) with the mask from x.
      BackwardSumsAcc<decltype(df)> acc(df, mean[ch]);
      for (size_t i = 0; i < n; ++i) {
        const size_t row = (i * c + ch) * s;
        if (i + kRowsAhead < n) {
          PrefetchRow(dy + row + kRowsAhead * c * s, bytes);
          PrefetchRow(x + row + kRowsAhead * c * s, bytes);
        }
        acc.template Row<kAct>(dy + row, x + row, s, MaskAtInput{act_scale[ch], act_shift[ch]});
      }
      acc.Finish(&sum_g[ch], &sum_gxc[ch]);
      coefs.Coefs(ch, sum_g[ch], sum_gxc[ch]);
      for (size_t i = 0; i < n; ++i) {
        const size_t row = (i * c + ch) * s;
        if (i + kRowsAhead < n) PrefetchOutputRow(dx + row + kRowsAhead * c * s, s);
        AffineRow<true, BatchNormActivation::kNone, kAct>(
            dy + row, a[ch], x + row, b[ch], d[ch], s, dx + row,
            MaskAtInput{act_scale[ch], act_shift[ch]});
      }
    }
  });
}

// The fused max-pooling backward's scratch (tensor/thread_scratch.h): a channel's n masked
// gradient planes.
enum class BatchNormSlot : size_t { kPlane, kNumSlots };

void TrainForwardMaxPoolT(const float* x, size_t n, size_t c, size_t h, size_t w, size_t c0,
                          size_t c1, const BatchNormChannelStats& stats, BatchNormActivation act,
                          float* pooled, int32_t* argmax) {
  const size_t s = h * w;
  for (size_t ch = c0; ch < c1; ++ch) {
    float scale, shift;
    TrainScaleShift(x, n, c, s, ch, stats, &scale, &shift);
    WithActivation(act, [&](auto kind) {
      AffineActMaxPoolChannel<decltype(kind)::value>(x, x + n * c * s, scale, shift, n, c, h, w,
                                                     ch, pooled, argmax);
    });
  }
}

void TrainBackwardMaxPoolT(const float* dy, const float* pooled, const int32_t* argmax,
                           BatchNormActivation act, const float* x, const float* mean,
                           const float* a, const float* b, const float* d, size_t n, size_t c,
                           size_t h, size_t w, size_t c0, size_t c1,
                           const BatchNormBackwardCoefs& coefs, float* sum_g, float* sum_gxc,
                           float* dx) {
  float* planes = detail::ThreadScratch(BatchNormSlot::kPlane, n * h * w + UnpoolPlanePadding());
  for (size_t ch = c0; ch < c1; ++ch) {
    WithActivation(act, [&](auto kind) {
      MaxPoolBackwardChannel<decltype(kind)::value>(dy, pooled, argmax, x, mean, a, b, d, n, c, h,
                                                    w, ch, coefs, sum_g, sum_gxc, planes, dx);
    });
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "hwy/cache_control.h"
#include "tensor/thread_pool.h"

namespace simdnet {

HWY_EXPORT(ChannelSumsT);
HWY_EXPORT(ChannelCenteredDotsT);
HWY_EXPORT(ChannelAffineT);
HWY_EXPORT(ChannelAffine2T);
HWY_EXPORT(ChannelAffineActT);
HWY_EXPORT(ChannelBackwardSumsT);
HWY_EXPORT(ChannelAffine2MaskedT);
HWY_EXPORT(TrainForwardT);
HWY_EXPORT(TrainBackwardT);
HWY_EXPORT(TrainBackwardFromInputT);
HWY_EXPORT(TrainForwardMaxPoolT);
HWY_EXPORT(TrainBackwardMaxPoolT);

namespace {

// Below this many elements the pool's wake-up costs more than it saves.
constexpr size_t kMinParallelElements = size_t{1} << 15;
// Channel blocks hold about this many elements (and, for s == 1, a multiple of 64 channels so
// that full vectors are used on every ISA). The block size depends only on the shape, never on
// the thread count, and each channel's arithmetic is independent of its block anyway.
constexpr size_t kBlockElements = size_t{1} << 14;

// Runs fn(c0, c1) over channel blocks, on the pool when worthwhile.
template <class Fn>
void ForChannelBlocks(size_t n, size_t c, size_t s, ThreadPool* pool, const Fn& fn) {
  const size_t total = n * c * s;
  if (pool == nullptr || pool->NumThreads() == 1 || total < kMinParallelElements || c < 2) {
    fn(size_t{0}, c);
    hwy::FlushStream();
    return;
  }
  size_t block = std::max<size_t>(1, kBlockElements / std::max<size_t>(1, n * s));
  if (s == 1) block = (block + 63) / 64 * 64;
  block = std::min(block, c);
  const uint64_t tasks = (c + block - 1) / block;
  pool->ParallelFor(tasks, [&](uint64_t task, size_t /*thread*/) {
    const size_t c0 = static_cast<size_t>(task) * block;
    fn(c0, std::min(c, c0 + block));
    // The kernels may write with streaming stores (StreamRow): make them visible before the
    // task counts as done.
    hwy::FlushStream();
  });
}

}  // namespace

void BatchNormChannelSums(const float* x, size_t n, size_t c, size_t s, float* sums,
                          ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ChannelSumsT)(x, n, c, s, c0, c1, sums);
  });
}

void BatchNormChannelCenteredDots(const float* a, const float* ca, const float* b, const float* cb,
                                  size_t n, size_t c, size_t s, float* out, ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ChannelCenteredDotsT)(a, ca, b, cb, n, c, s, c0, c1, out);
  });
}

void BatchNormChannelAffine(const float* x, const float* scale, const float* shift, size_t n,
                            size_t c, size_t s, float* y, ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ChannelAffineT)(x, scale, shift, n, c, s, c0, c1, y);
  });
}

void BatchNormChannelAffine2(const float* u, const float* a, const float* v, const float* b,
                             const float* d, size_t n, size_t c, size_t s, float* out,
                             ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ChannelAffine2T)(u, a, v, b, d, n, c, s, c0, c1, out);
  });
}

void BatchNormChannelAffineAct(const float* x, const float* scale, const float* shift,
                               BatchNormActivation act, size_t n, size_t c, size_t s, float* y,
                               ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ChannelAffineActT)(x, scale, shift, act, n, c, s, c0, c1, y);
  });
}

void BatchNormChannelBackwardSums(const float* dy, const float* y, BatchNormActivation act,
                                  const float* x, const float* mean, size_t n, size_t c, size_t s,
                                  float* sum_g, float* sum_gxc, ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ChannelBackwardSumsT)(dy, y, act, x, mean, n, c, s, c0, c1, sum_g,
                                               sum_gxc);
  });
}

void BatchNormChannelAffine2Masked(const float* u, const float* mask, BatchNormActivation act,
                                   const float* a, const float* v, const float* b, const float* d,
                                   size_t n, size_t c, size_t s, float* out, ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(ChannelAffine2MaskedT)(u, mask, act, a, v, b, d, n, c, s, c0, c1, out);
  });
}

void BatchNormTrainForward(const float* x, size_t n, size_t c, size_t s,
                           const BatchNormChannelStats& stats, BatchNormActivation act, float* y,
                           ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(TrainForwardT)(x, n, c, s, c0, c1, stats, act, y);
  });
}

void BatchNormTrainBackward(const float* dy, const float* act_y, BatchNormActivation act,
                            const float* x, const float* mean, const float* a, const float* b,
                            const float* d, size_t n, size_t c, size_t s,
                            const BatchNormBackwardCoefs& coefs, float* sum_g, float* sum_gxc,
                            float* dx, ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(TrainBackwardT)(dy, act_y, act, x, mean, a, b, d, n, c, s, c0, c1, coefs,
                                         sum_g, sum_gxc, dx);
  });
}

void BatchNormTrainBackwardFromInput(const float* dy, BatchNormActivation act,
                                     const float* act_scale, const float* act_shift,
                                     const float* x, const float* mean, const float* a,
                                     const float* b, const float* d, size_t n, size_t c, size_t s,
                                     const BatchNormBackwardCoefs& coefs, float* sum_g,
                                     float* sum_gxc, float* dx, ThreadPool* pool) {
  ForChannelBlocks(n, c, s, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(TrainBackwardFromInputT)(dy, act, act_scale, act_shift, x, mean, a, b, d,
                                                  n, c, s, c0, c1, coefs, sum_g, sum_gxc, dx);
  });
}

void BatchNormTrainForwardMaxPool2x2(const float* x, size_t n, size_t c, size_t h, size_t w,
                                     const BatchNormChannelStats& stats, BatchNormActivation act,
                                     float* pooled, int32_t* argmax, ThreadPool* pool) {
  ForChannelBlocks(n, c, h * w, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(TrainForwardMaxPoolT)(x, n, c, h, w, c0, c1, stats, act, pooled, argmax);
  });
}

void BatchNormTrainBackwardMaxPool2x2(const float* dy, const float* pooled, const int32_t* argmax,
                                      BatchNormActivation act, const float* x, const float* mean,
                                      const float* a, const float* b, const float* d, size_t n,
                                      size_t c, size_t h, size_t w,
                                      const BatchNormBackwardCoefs& coefs, float* sum_g,
                                      float* sum_gxc, float* dx, ThreadPool* pool) {
  ForChannelBlocks(n, c, h * w, pool, [&](size_t c0, size_t c1) {
    HWY_DYNAMIC_DISPATCH(TrainBackwardMaxPoolT)
    (dy, pooled, argmax, act, x, mean, a, b, d, n, c, h, w, c0, c1, coefs, sum_g, sum_gxc, dx);
  });
}

}  // namespace simdnet
#endif  // HWY_ONCE
