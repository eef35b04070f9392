// Per-ISA tests of the reductions: reduce-inl.h templates and the public dispatched functions,
// against plain double references, over odd sizes, misalignments and (outer, axis, inner) shapes.
#include "tensor/reduce.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "tensor/simd_targets.h"  // before foreach_target: same target list as the library

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/reduce_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/test_util-inl.h"
#include "tensor/reduce-inl.h"
#include "tensor/test_util.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace {

constexpr double kUlp = std::numeric_limits<float>::epsilon();  // 2^-23

// Returns n floats at a `misalign`-float offset into `storage`.
float* Misaligned(std::vector<float>& storage, size_t n, size_t misalign) {
  storage.assign(n + misalign, 0.0f);
  return storage.data() + misalign;
}

// Small integers: every partial sum below 2^24 is exact in float, so any summation order gives
// the exact result and a dropped or repeated element cannot hide inside the tolerance.
void FillSmallInts(std::mt19937& rng, float* p, size_t n) {
  std::uniform_int_distribution<int> dist(-8, 8);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<float>(dist(rng));
}

void FillUniform(std::mt19937& rng, float lo, float hi, float* p, size_t n) {
  std::uniform_real_distribution<float> dist(lo, hi);
  for (size_t i = 0; i < n; ++i) p[i] = dist(rng);
}

// The (outer, axis, inner) shapes for the axis tests: inner == 1 (contiguous rows) and inner
// above/below/at multiples of every vector width, with odd axis lengths.
struct AxisShape {
  size_t outer, axis, inner;
};
std::vector<AxisShape> AxisShapes() {
  std::vector<AxisShape> shapes;
  for (size_t outer : {1, 3}) {
    for (size_t axis : {1, 2, 10, 17}) {
      for (size_t inner : {1, 3, 16, 17, 49}) shapes.push_back({outer, axis, inner});
    }
  }
  shapes.push_back({2, 255, 1});
  shapes.push_back({1, 4099, 1});
  return shapes;
}

#define SIMDNET_AXIS_TRACE(s)       \
  SCOPED_TRACE(::testing::Message() \
               << "outer=" << s.outer << " axis=" << s.axis << " inner=" << s.inner)

}  // namespace

void TestAllSpanReductionsExact() {
  std::mt19937 rng(7);
  for (size_t n : test::KernelTestSizes()) {
    for (size_t mis : test::KernelTestMisalignments()) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " misalign=" << mis);
      std::vector<float> sa, sb;
      float* a = Misaligned(sa, n, mis);
      float* b = Misaligned(sb, n, mis);
      FillSmallInts(rng, a, n);
      FillSmallInts(rng, b, n);
      double sum = 0, l1 = 0, l2 = 0, dot = 0;
      for (size_t i = 0; i < n; ++i) {
        sum += a[i];
        l1 += std::abs(a[i]);
        l2 += double{a[i]} * a[i];
        dot += double{a[i]} * b[i];
      }
      EXPECT_EQ(SumSpan(a, n), sum);
      EXPECT_EQ(simdnet::Sum(a, n), sum);
      EXPECT_EQ(L1NormSpan(a, n), l1);
      EXPECT_EQ(simdnet::L1Norm(a, n), l1);
      EXPECT_EQ(SquaredL2NormSpan(a, n), l2);
      EXPECT_EQ(simdnet::SquaredL2Norm(a, n), l2);
      EXPECT_EQ(DotSpan(a, b, n), dot);
      EXPECT_EQ(simdnet::Dot(a, b, n), dot);
      EXPECT_EQ(simdnet::Dot(a, a, n), l2);  // aliased inputs
    }
  }
}

void TestAllSpanReductionsAccuracy() {
  // Real-valued inputs: any summation order of n terms is within (n - 1) ulp of sum |terms|
  // (Higham's bound); with four accumulators per lane the real error is far smaller.
  std::mt19937 rng(8);
  for (size_t n : test::KernelTestSizes()) {
    for (size_t mis : test::KernelTestMisalignments()) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " misalign=" << mis);
      std::vector<float> sa, sb;
      float* a = Misaligned(sa, n, mis);
      float* b = Misaligned(sb, n, mis);
      FillUniform(rng, -1.0f, 1.0f, a, n);
      FillUniform(rng, -1.0f, 1.0f, b, n);
      double sum = 0, l1 = 0, l2 = 0, dot = 0, dot_abs = 0;
      for (size_t i = 0; i < n; ++i) {
        sum += a[i];
        l1 += std::abs(a[i]);
        l2 += double{a[i]} * a[i];
        dot += double{a[i]} * b[i];
        dot_abs += std::abs(double{a[i]} * b[i]);
      }
      const double bound = static_cast<double>(n) * kUlp;
      EXPECT_NEAR(simdnet::Sum(a, n), sum, bound * l1);
      EXPECT_NEAR(simdnet::L1Norm(a, n), l1, bound * l1);
      EXPECT_NEAR(simdnet::SquaredL2Norm(a, n), l2, bound * l2);
      EXPECT_NEAR(simdnet::Dot(a, b, n), dot, bound * dot_abs);
      // Deterministic: the same call twice gives the same bits.
      EXPECT_EQ(simdnet::Sum(a, n), simdnet::Sum(a, n));
      EXPECT_EQ(simdnet::Sum(a, n), SumSpan(a, n));
    }
  }
}

void TestAllMaxAndArgmaxSpan() {
  std::mt19937 rng(9);
  for (size_t n : test::KernelTestSizes()) {
    if (n == 0) continue;  // Requires n >= 1
    for (size_t mis : test::KernelTestMisalignments()) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " misalign=" << mis);
      std::vector<float> s;
      float* x = Misaligned(s, n, mis);
      // All negative, so padding the tail with 0 (a bug) would show up as a wrong max.
      FillUniform(rng, -100.0f, -1.0f, x, n);
      // The max at the first, a middle and the last position, including in the tail.
      for (size_t pos : {size_t{0}, n / 2, n - 1}) {
        std::vector<float> v(x, x + n);
        v[pos] = -0.5f;
        EXPECT_EQ(MaxSpan(v.data(), n), -0.5f) << "pos " << pos;
        EXPECT_EQ(simdnet::Max(v.data(), n), -0.5f) << "pos " << pos;
        EXPECT_EQ(ArgmaxSpan(v.data(), n), pos);
      }
      EXPECT_EQ(simdnet::Max(x, n), *std::max_element(x, x + n));
    }
  }
  const float kInf = std::numeric_limits<float>::infinity();
  const std::vector<float> with_inf = {1.0f, -kInf, 3.0f, kInf, 2.0f};
  EXPECT_EQ(simdnet::Max(with_inf.data(), with_inf.size()), kInf);
  const std::vector<float> all_neg_inf(19, -kInf);
  EXPECT_EQ(simdnet::Max(all_neg_inf.data(), all_neg_inf.size()), -kInf);
}

void TestAllSumMeanMaxAxis() {
  std::mt19937 rng(10);
  for (const AxisShape& s : AxisShapes()) {
    SIMDNET_AXIS_TRACE(s);
    const size_t n_in = s.outer * s.axis * s.inner, n_out = s.outer * s.inner;
    std::vector<float> x(n_in);
    FillSmallInts(rng, x.data(), n_in);
    std::vector<double> sum(n_out, 0.0), mean(n_out), max(n_out, -1e300);
    for (size_t o = 0; o < s.outer; ++o) {
      for (size_t a = 0; a < s.axis; ++a) {
        for (size_t i = 0; i < s.inner; ++i) {
          const double v = x[(o * s.axis + a) * s.inner + i];
          sum[o * s.inner + i] += v;
          max[o * s.inner + i] = std::max(max[o * s.inner + i], v);
        }
      }
    }
    for (size_t k = 0; k < n_out; ++k) mean[k] = sum[k] / static_cast<double>(s.axis);
    std::vector<float> y(n_out, -1.0f), y2(n_out, -2.0f);
    SumAxisImpl(x.data(), s.outer, s.axis, s.inner, y.data());
    EXPECT_TRUE(test::AllNear(y.data(), sum.data(), n_out, 0.0, 0.0));
    simdnet::SumAxis(x.data(), s.outer, s.axis, s.inner, y2.data());
    EXPECT_TRUE(test::AllNear(y2.data(), sum.data(), n_out, 0.0, 0.0));
    // The sum is exact; the scale by 1/axis adds two roundings.
    simdnet::MeanAxis(x.data(), s.outer, s.axis, s.inner, y.data());
    EXPECT_TRUE(test::AllNear(y.data(), mean.data(), n_out, 0.0, 2.0 * kUlp));
    MaxAxisImpl(x.data(), s.outer, s.axis, s.inner, y.data());
    EXPECT_TRUE(test::AllNear(y.data(), max.data(), n_out, 0.0, 0.0));
    simdnet::MaxAxis(x.data(), s.outer, s.axis, s.inner, y2.data());
    EXPECT_TRUE(test::AllNear(y2.data(), max.data(), n_out, 0.0, 0.0));
  }
  // An empty axis sums to zero.
  std::vector<float> y(6, 5.0f);
  simdnet::SumAxis(nullptr, 2, 0, 3, y.data());
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

void TestAllArgmaxAxisFirstOfTies() {
  std::mt19937 rng(11);
  for (const AxisShape& s : AxisShapes()) {
    SIMDNET_AXIS_TRACE(s);
    const size_t n_in = s.outer * s.axis * s.inner, n_out = s.outer * s.inner;
    std::vector<float> x(n_in);
    // Values in [-2, 2]: ties are frequent, so "first index of the max" is really exercised.
    std::uniform_int_distribution<int> dist(-2, 2);
    for (float& v : x) v = static_cast<float>(dist(rng));
    std::vector<int64_t> expected(n_out), got(n_out, -1), got_inl(n_out, -1);
    for (size_t o = 0; o < s.outer; ++o) {
      for (size_t i = 0; i < s.inner; ++i) {
        size_t best = 0;
        for (size_t a = 1; a < s.axis; ++a) {
          if (x[(o * s.axis + a) * s.inner + i] > x[(o * s.axis + best) * s.inner + i]) best = a;
        }
        expected[o * s.inner + i] = static_cast<int64_t>(best);
      }
    }
    ArgmaxAxisImpl(x.data(), s.outer, s.axis, s.inner, got_inl.data());
    simdnet::ArgmaxAxis(x.data(), s.outer, s.axis, s.inner, got.data());
    EXPECT_EQ(got_inl, expected);
    EXPECT_EQ(got, expected);
  }
}

namespace {

// Returns the double reference softmax (log_softmax if `log`) of x over the axis.
std::vector<double> RefSoftmax(const std::vector<float>& x, const AxisShape& s, bool log) {
  std::vector<double> y(x.size());
  for (size_t o = 0; o < s.outer; ++o) {
    for (size_t i = 0; i < s.inner; ++i) {
      auto at = [&](size_t a) { return (o * s.axis + a) * s.inner + i; };
      double m = -std::numeric_limits<double>::infinity();
      for (size_t a = 0; a < s.axis; ++a) m = std::max(m, double{x[at(a)]});
      double sum = 0;
      for (size_t a = 0; a < s.axis; ++a) sum += std::exp(x[at(a)] - m);
      for (size_t a = 0; a < s.axis; ++a) {
        y[at(a)] = log ? (x[at(a)] - m) - std::log(sum) : std::exp(x[at(a)] - m) / sum;
      }
    }
  }
  return y;
}

// Checks SoftmaxAxis / LogSoftmaxAxis on inputs uniform in [lo, hi]: against the reference,
// inl == public bit for bit, in place, and each softmax column summing to 1.
void CheckSoftmax(float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  for (const AxisShape& s : AxisShapes()) {
    SIMDNET_AXIS_TRACE(s);
    // Softmax: exp (<= 1 ulp), the reciprocal and the scale (1/2 ulp each) give 4 ulp; the sum
    // of `axis` positive terms adds rounding errors that behave like a random walk, ~sqrt(axis)
    // half-ulps (worst case: axis ulps; 4099 terms on SCALAR measured 9 ulp with two
    // accumulators). Plus a tiny absolute term for underflowing entries.
    const double sm_rel = (4 + std::sqrt(static_cast<double>(s.axis))) * kUlp, sm_abs = 1e-30;
    const size_t n = s.outer * s.axis * s.inner;
    std::vector<float> x(n);
    FillUniform(rng, lo, hi, x.data(), n);
    const std::vector<double> ref = RefSoftmax(x, s, false);
    const std::vector<double> ref_log = RefSoftmax(x, s, true);
    // log_softmax = (x - m) - log(sum): error of x - m (half an ulp of |x - m|) plus that of
    // log(sum) (4 ulp of hwy Log + the sum's 4-ish ulp, relative to log(sum) <= log(axis) + 1).
    const double ls_abs = 8 * kUlp * (std::log(static_cast<double>(s.axis)) + 1.0);

    std::vector<float> y(n), y_inl(n), z(x);
    SoftmaxAxisImpl(x.data(), s.outer, s.axis, s.inner, y_inl.data());
    simdnet::SoftmaxAxis(x.data(), s.outer, s.axis, s.inner, y.data());
    EXPECT_TRUE(test::AllNear(y.data(), ref.data(), n, sm_abs, sm_rel));
    EXPECT_EQ(0, std::memcmp(y.data(), y_inl.data(), n * sizeof(float)));
    simdnet::SoftmaxAxis(z.data(), s.outer, s.axis, s.inner, z.data());
    EXPECT_EQ(0, std::memcmp(y.data(), z.data(), n * sizeof(float))) << "in place";
    for (size_t o = 0; o < s.outer; ++o) {
      for (size_t i = 0; i < s.inner; ++i) {
        double total = 0;
        for (size_t a = 0; a < s.axis; ++a) total += y[(o * s.axis + a) * s.inner + i];
        EXPECT_NEAR(total, 1.0, 1e-5) << "column o=" << o << " i=" << i;
      }
    }

    z = x;
    LogSoftmaxAxisImpl(x.data(), s.outer, s.axis, s.inner, y_inl.data());
    simdnet::LogSoftmaxAxis(x.data(), s.outer, s.axis, s.inner, y.data());
    EXPECT_TRUE(test::AllNear(y.data(), ref_log.data(), n, ls_abs, kUlp));
    EXPECT_EQ(0, std::memcmp(y.data(), y_inl.data(), n * sizeof(float)));
    simdnet::LogSoftmaxAxis(z.data(), s.outer, s.axis, s.inner, z.data());
    EXPECT_EQ(0, std::memcmp(y.data(), z.data(), n * sizeof(float))) << "in place";
  }
}

}  // namespace

void TestAllSoftmaxModerateInputs() { CheckSoftmax(-5.0f, 5.0f, 12); }

// Inputs of +-1000 overflow a naive exp(x) / sum: the max-subtracted form must stay finite.
void TestAllSoftmaxLargeInputsStable() {
  CheckSoftmax(-1000.0f, 1000.0f, 13);
  CheckSoftmax(990.0f, 1000.0f, 14);
  CheckSoftmax(-1000.0f, -990.0f, 15);
  const std::vector<float> x = {1000.0f, 999.0f, -1000.0f, 1000.0f};
  std::vector<float> y(4), ly(4);
  simdnet::SoftmaxAxis(x.data(), 1, 4, 1, y.data());
  simdnet::LogSoftmaxAxis(x.data(), 1, 4, 1, ly.data());
  const double e1 = std::exp(-1.0), total = 2.0 + e1;
  const std::vector<double> expected = {1 / total, e1 / total, 0.0, 1 / total};
  const std::vector<double> expected_log = {-std::log(total), -1 - std::log(total),
                                            -2000 - std::log(total), -std::log(total)};
  EXPECT_TRUE(test::AllNear(y.data(), expected.data(), 4, 1e-30, 8 * kUlp));
  EXPECT_TRUE(test::AllNear(ly.data(), expected_log.data(), 4, 8 * kUlp, kUlp));
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(ReduceTest);
HWY_EXPORT_AND_TEST_P(ReduceTest, TestAllSpanReductionsExact);
HWY_EXPORT_AND_TEST_P(ReduceTest, TestAllSpanReductionsAccuracy);
HWY_EXPORT_AND_TEST_P(ReduceTest, TestAllMaxAndArgmaxSpan);
HWY_EXPORT_AND_TEST_P(ReduceTest, TestAllSumMeanMaxAxis);
HWY_EXPORT_AND_TEST_P(ReduceTest, TestAllArgmaxAxisFirstOfTies);
HWY_EXPORT_AND_TEST_P(ReduceTest, TestAllSoftmaxModerateInputs);
HWY_EXPORT_AND_TEST_P(ReduceTest, TestAllSoftmaxLargeInputsStable);
}  // namespace simdnet
#endif  // HWY_ONCE
