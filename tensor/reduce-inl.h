// Per-target reductions behind tensor/reduce.h: span reductions with several accumulators, and
// axis-wise sum/max/argmax/softmax over a row-major (outer, axis, inner) view.
// Include after hwy/foreach_target.h (or once, without it, for the static target).

// Non-SIMD includes: normal include guard.
#ifndef SIMDNET_TENSOR_REDUCE_INL_H_
#define SIMDNET_TENSOR_REDUCE_INL_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#endif  // SIMDNET_TENSOR_REDUCE_INL_H_

// Per-target include guard (toggled by foreach_target).
#if defined(SIMDNET_TENSOR_REDUCE_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_TENSOR_REDUCE_TOGGLE
#undef SIMDNET_TENSOR_REDUCE_TOGGLE
#else
#define SIMDNET_TENSOR_REDUCE_TOGGLE
#endif

#include "hwy/highway.h"
#include "tensor/elementwise-inl.h"  // ExpVec, LogVec, MapUnary, MapBinary and their ops

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---------------------------------------------------------------------------------------------
// Span reductions.

// Returns the lane-sum of op(d, acc, a[i], b[i]) accumulated over [0, n), where `op` folds one
// vector pair into an accumulator that starts at zero. Four independent accumulators hide the
// add latency (one dependent add per cycle would cap throughput at a quarter of the FMA ports).
// The tail is a stack copy padded with `pad`, which op must map to a zero contribution.
// Order is fixed for a given target and n, so the result is deterministic.
template <class Op>
HWY_INLINE float SumReduce(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n,
                           const Op& op, float pad = 0.0f) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = op(d, s0, hn::LoadU(d, a + i), hn::LoadU(d, b + i));
    s1 = op(d, s1, hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N));
    s2 = op(d, s2, hn::LoadU(d, a + i + 2 * N), hn::LoadU(d, b + i + 2 * N));
    s3 = op(d, s3, hn::LoadU(d, a + i + 3 * N), hn::LoadU(d, b + i + 3 * N));
  }
  for (; i + N <= n; i += N) {
    s0 = op(d, s0, hn::LoadU(d, a + i), hn::LoadU(d, b + i));
  }
  if (i < n) {
    const size_t rem = n - i;
    HWY_ALIGN float ba[kMaxFloatLanes];
    HWY_ALIGN float bb[kMaxFloatLanes];
    for (size_t k = 0; k < N; ++k) ba[k] = bb[k] = pad;
    std::memcpy(ba, a + i, rem * sizeof(float));
    std::memcpy(bb, b + i, rem * sizeof(float));
    s1 = op(d, s1, hn::Load(d, ba), hn::Load(d, bb));
  }
  s0 = hn::Add(hn::Add(s0, s1), hn::Add(s2, s3));
  return hn::GetLane(hn::SumOfLanes(d, s0));
}

struct SumAccOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V acc, V a, V) const {
    return hn::Add(acc, a);
  }
};
struct AbsSumAccOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V acc, V a, V) const {
    return hn::Add(acc, hn::Abs(a));
  }
};
struct SquareSumAccOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V acc, V a, V) const {
    return hn::MulAdd(a, a, acc);
  }
};
struct DotAccOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V acc, V a, V b) const {
    return hn::MulAdd(a, b, acc);
  }
};
// acc += exp(a - max); pad with -inf (exp(-inf) == 0).
struct ExpSumAccOp {
  float max;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V acc, V a, V) const {
    return hn::Add(acc, ExpVec(d, hn::Sub(a, hn::Set(d, max))));
  }
};

HWY_INLINE float SumSpan(const float* x, size_t n) { return SumReduce(x, x, n, SumAccOp()); }
HWY_INLINE float L1NormSpan(const float* x, size_t n) { return SumReduce(x, x, n, AbsSumAccOp()); }
HWY_INLINE float SquaredL2NormSpan(const float* x, size_t n) {
  return SumReduce(x, x, n, SquareSumAccOp());
}
HWY_INLINE float DotSpan(const float* a, const float* b, size_t n) {
  return SumReduce(a, b, n, DotAccOp());
}

// Returns max(x[0, n)). Requires: n >= 1. NaN inputs give an unspecified result.
HWY_INLINE float MaxSpan(const float* HWY_RESTRICT x, size_t n) {
  HWY_DASSERT(n >= 1);
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  // Start from x[0] (not -inf) so the tail padding below never changes the result.
  auto m0 = hn::Set(d, x[0]), m1 = m0, m2 = m0, m3 = m0;
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    m0 = hn::Max(m0, hn::LoadU(d, x + i));
    m1 = hn::Max(m1, hn::LoadU(d, x + i + N));
    m2 = hn::Max(m2, hn::LoadU(d, x + i + 2 * N));
    m3 = hn::Max(m3, hn::LoadU(d, x + i + 3 * N));
  }
  for (; i + N <= n; i += N) m0 = hn::Max(m0, hn::LoadU(d, x + i));
  if (i < n) {
    HWY_ALIGN float buf[kMaxFloatLanes];
    for (size_t k = 0; k < N; ++k) buf[k] = x[0];
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    m1 = hn::Max(m1, hn::Load(d, buf));
  }
  m0 = hn::Max(hn::Max(m0, m1), hn::Max(m2, m3));
  return hn::GetLane(hn::MaxOfLanes(d, m0));
}

// Returns the first index of max(x[0, n)). Requires: n >= 1, no NaN.
HWY_INLINE size_t ArgmaxSpan(const float* HWY_RESTRICT x, size_t n) {
  const float m = MaxSpan(x, n);
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto mv = hn::Set(d, m);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const intptr_t pos = hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, x + i), mv));
    if (pos >= 0) return i + static_cast<size_t>(pos);
  }
  for (; i < n; ++i) {
    if (x[i] == m) return i;
  }
  HWY_DASSERT(false);  // m is an element of x
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Axis reductions over x viewed as (outer, axis, inner), row-major. For inner == 1 each output is
// a span reduction of a contiguous row; otherwise whole rows of `inner` floats are combined
// element-wise, streaming through memory in order.

// (a, b) -> max(a, b).
struct MaxOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const {
    return hn::Max(a, b);
  }
};
// (x, m) -> exp(x - m).
struct ExpSubOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x, V m) const {
    return ExpVec(d, hn::Sub(x, m));
  }
};
// (s) -> log(s).
struct LogOpR {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V s) const {
    return LogVec(d, s);
  }
};
// (s) -> 1 / s.
struct ReciprocalOp {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V s) const {
    return hn::Div(hn::Set(d, 1.0f), s);
  }
};
// (x) -> (x - max) - lse, the log-softmax of one element given the row's max and log-sum-exp.
struct LogSoftmaxOp {
  float max;
  float log_sum;
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const {
    return hn::Sub(hn::Sub(x, hn::Set(d, max)), hn::Set(d, log_sum));
  }
};

// y[o, i] = sum_a x[o, a, i] (sequential over a).
HWY_INLINE void SumAxisImpl(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  for (size_t o = 0; o < outer; ++o) {
    const float* xo = x + o * axis * inner;
    float* yo = y + o * inner;
    if (inner == 1) {
      yo[0] = SumSpan(xo, axis);
      continue;
    }
    if (axis == 0) {
      FillSpan(yo, inner, 0.0f);
      continue;
    }
    CopySpan(xo, yo, inner);
    for (size_t a = 1; a < axis; ++a) MapBinary(yo, xo + a * inner, yo, inner, AddOp());
  }
}

// y[o, i] = max_a x[o, a, i]. Requires: axis >= 1.
HWY_INLINE void MaxAxisImpl(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  HWY_DASSERT(axis >= 1);
  for (size_t o = 0; o < outer; ++o) {
    const float* xo = x + o * axis * inner;
    float* yo = y + o * inner;
    if (inner == 1) {
      yo[0] = MaxSpan(xo, axis);
      continue;
    }
    CopySpan(xo, yo, inner);
    for (size_t a = 1; a < axis; ++a) MapBinary(yo, xo + a * inner, yo, inner, MaxOp());
  }
}

// Updates best/best_idx (one vector of `inner` columns) with rows a in [0, axis) of xo, starting
// at column i. Strict Gt keeps the first index on ties.
template <class D>
HWY_INLINE void ArgmaxColumns(D d, const float* xo, size_t axis, size_t inner, size_t i,
                              int32_t* idx_out) {
  const hn::RebindToSigned<D> di;
  auto best = hn::LoadU(d, xo + i);
  auto best_idx = hn::Zero(di);
  for (size_t a = 1; a < axis; ++a) {
    const auto v = hn::LoadU(d, xo + a * inner + i);
    const auto gt = hn::Gt(v, best);
    best = hn::IfThenElse(gt, v, best);
    best_idx =
        hn::IfThenElse(hn::RebindMask(di, gt), hn::Set(di, static_cast<int32_t>(a)), best_idx);
  }
  hn::StoreU(best_idx, di, idx_out);
}

// idx[o, i] = first argmax_a x[o, a, i]. Requires: axis >= 1, axis < 2^31.
HWY_INLINE void ArgmaxAxisImpl(const float* x, size_t outer, size_t axis, size_t inner,
                               int64_t* idx) {
  HWY_DASSERT(axis >= 1 && axis <= static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;  // columns past the last full vector, one at a time
  const size_t N = hn::Lanes(d);
  HWY_ALIGN int32_t lanes[kMaxFloatLanes];
  for (size_t o = 0; o < outer; ++o) {
    const float* xo = x + o * axis * inner;
    int64_t* io = idx + o * inner;
    if (inner == 1) {
      io[0] = static_cast<int64_t>(ArgmaxSpan(xo, axis));
      continue;
    }
    size_t i = 0;
    for (; i + N <= inner; i += N) {
      ArgmaxColumns(d, xo, axis, inner, i, lanes);
      for (size_t k = 0; k < N; ++k) io[i + k] = lanes[k];
    }
    for (; i < inner; ++i) {
      ArgmaxColumns(d1, xo, axis, inner, i, lanes);
      io[i] = lanes[0];
    }
  }
}

// Writes y[i] = exp(x[i] - max) and returns their sum, in one pass (softmax reads x once and
// writes y once before the final scale). y may alias x exactly. Four accumulators, as in
// SumReduce, keep the summation error of long rows (and the add latency) down.
HWY_INLINE float ExpSubStoreSum(const float* x, float max, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto m = hn::Set(d, max);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const auto e0 = ExpVec(d, hn::Sub(hn::LoadU(d, x + i), m));
    const auto e1 = ExpVec(d, hn::Sub(hn::LoadU(d, x + i + N), m));
    const auto e2 = ExpVec(d, hn::Sub(hn::LoadU(d, x + i + 2 * N), m));
    const auto e3 = ExpVec(d, hn::Sub(hn::LoadU(d, x + i + 3 * N), m));
    hn::StoreU(e0, d, y + i);
    hn::StoreU(e1, d, y + i + N);
    hn::StoreU(e2, d, y + i + 2 * N);
    hn::StoreU(e3, d, y + i + 3 * N);
    s0 = hn::Add(s0, e0);
    s1 = hn::Add(s1, e1);
    s2 = hn::Add(s2, e2);
    s3 = hn::Add(s3, e3);
  }
  for (; i + N <= n; i += N) {
    const auto e = ExpVec(d, hn::Sub(hn::LoadU(d, x + i), m));
    hn::StoreU(e, d, y + i);
    s0 = hn::Add(s0, e);
  }
  if (i < n) {
    // Pad with -inf: exp(-inf - max) == 0 adds nothing to the sum.
    const size_t rem = n - i;
    HWY_ALIGN float buf[kMaxFloatLanes];
    for (size_t k = 0; k < N; ++k) buf[k] = -std::numeric_limits<float>::infinity();
    std::memcpy(buf, x + i, rem * sizeof(float));
    const auto e = ExpVec(d, hn::Sub(hn::Load(d, buf), m));
    hn::Store(e, d, buf);
    std::memcpy(y + i, buf, rem * sizeof(float));
    s1 = hn::Add(s1, e);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
}

// y[o, :, i] = softmax_a x[o, :, i] (max subtracted first). y may alias x. Requires: axis >= 1.
HWY_INLINE void SoftmaxAxisImpl(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  HWY_DASSERT(axis >= 1);
  std::vector<float> max_row, sum_row;
  if (inner > 1) {
    max_row.resize(inner);
    sum_row.resize(inner);
  }
  for (size_t o = 0; o < outer; ++o) {
    const float* xo = x + o * axis * inner;
    float* yo = y + o * axis * inner;
    if (inner == 1) {
      const float m = MaxSpan(xo, axis);
      const float sum = ExpSubStoreSum(xo, m, yo, axis);
      MapUnary(yo, yo, axis, MulScalarOp{1.0f / sum});
      continue;
    }
    MaxAxisImpl(xo, 1, axis, inner, max_row.data());
    FillSpan(sum_row.data(), inner, 0.0f);
    for (size_t a = 0; a < axis; ++a) {
      MapBinary(xo + a * inner, max_row.data(), yo + a * inner, inner, ExpSubOp());
      MapBinary(sum_row.data(), yo + a * inner, sum_row.data(), inner, AddOp());
    }
    MapUnary(sum_row.data(), sum_row.data(), inner, ReciprocalOp());
    for (size_t a = 0; a < axis; ++a) {
      MapBinary(yo + a * inner, sum_row.data(), yo + a * inner, inner, MulOp());
    }
  }
}

// y[o, :, i] = (x - max) - log(sum_a exp(x - max)). y may alias x. Requires: axis >= 1.
HWY_INLINE void LogSoftmaxAxisImpl(const float* x, size_t outer, size_t axis, size_t inner,
                                   float* y) {
  HWY_DASSERT(axis >= 1);
  std::vector<float> max_row, sum_row, tmp_row;
  if (inner > 1) {
    max_row.resize(inner);
    sum_row.resize(inner);
    tmp_row.resize(inner);
  }
  for (size_t o = 0; o < outer; ++o) {
    const float* xo = x + o * axis * inner;
    float* yo = y + o * axis * inner;
    if (inner == 1) {
      const float m = MaxSpan(xo, axis);
      const float sum =
          SumReduce(xo, xo, axis, ExpSumAccOp{m}, -std::numeric_limits<float>::infinity());
      MapUnary(xo, yo, axis, LogSoftmaxOp{m, std::log(sum)});
      continue;
    }
    MaxAxisImpl(xo, 1, axis, inner, max_row.data());
    FillSpan(sum_row.data(), inner, 0.0f);
    for (size_t a = 0; a < axis; ++a) {
      MapBinary(xo + a * inner, max_row.data(), tmp_row.data(), inner, ExpSubOp());
      MapBinary(sum_row.data(), tmp_row.data(), sum_row.data(), inner, AddOp());
    }
    MapUnary(sum_row.data(), sum_row.data(), inner, LogOpR());  // now log-sum-exp - max
    for (size_t a = 0; a < axis; ++a) {
      MapBinary(xo + a * inner, max_row.data(), yo + a * inner, inner, SubOp());
      MapBinary(yo + a * inner, sum_row.data(), yo + a * inner, inner, SubOp());
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_TENSOR_REDUCE_TOGGLE
