// Per-ISA tests of the clamp kernels (the -inl.h templates and the public dispatched functions,
// serial and threaded) against a plain double reference, over odd sizes and misalignments.
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "layers/clamp_kernels.h"
#include "tensor/simd_targets.h"  // before foreach_target: same target list as the library

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/clamp_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "hwy/tests/test_util-inl.h"
#include "layers/clamp_kernels-inl.h"
#include "tensor/test_util.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace {

// Inputs spread over [-8, 8] with exact hits on the edges 0 and 6 (the gradient is 0 there).
std::vector<float> MakeInput(size_t n, size_t seed) {
  std::mt19937 gen(static_cast<unsigned>(seed));
  std::uniform_real_distribution<float> dist(-8.0f, 8.0f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = dist(gen);
    if (i % 7 == 2) x[i] = 0.0f;
    if (i % 7 == 5) x[i] = 6.0f;
  }
  return x;
}

void TestAllClampForwardAndBackward() {
  ThreadPool pool(2);
  const float lo = 0.0f, hi = 6.0f;
  for (size_t n : test::KernelTestSizes()) {
    for (size_t misalign : test::KernelTestMisalignments()) {
      const std::vector<float> xs = MakeInput(n, n * 3 + misalign);
      std::vector<float> x_buf(n + misalign), dy_buf(n + misalign), out_buf(n + misalign);
      float* x = x_buf.data() + misalign;
      float* dy = dy_buf.data() + misalign;
      float* out = out_buf.data() + misalign;
      for (size_t i = 0; i < n; ++i) {
        x[i] = xs[i];
        dy[i] = 0.5f + static_cast<float>(i % 13);
      }
      std::vector<double> y_ref(n), dx_ref(n);
      for (size_t i = 0; i < n; ++i) {
        const double v = x[i];
        y_ref[i] = v < lo ? lo : (v > hi ? hi : v);
        dx_ref[i] = (v > lo && v < hi) ? dy[i] : 0.0;
      }
      ClampForwardSpan(x, lo, hi, out, n);
      EXPECT_TRUE(test::AllNear(out, y_ref.data(), n, 0.0, 0.0)) << "span n=" << n;
      ClampForward(x, lo, hi, out, n, &pool);
      EXPECT_TRUE(test::AllNear(out, y_ref.data(), n, 0.0, 0.0)) << "public n=" << n;
      ClampBackwardSpan(x, lo, hi, dy, out, n);
      EXPECT_TRUE(test::AllNear(out, dx_ref.data(), n, 0.0, 0.0)) << "span bwd n=" << n;
      ClampBackward(x, lo, hi, dy, out, n, &pool);
      EXPECT_TRUE(test::AllNear(out, dx_ref.data(), n, 0.0, 0.0)) << "public bwd n=" << n;
    }
  }
}

void TestAllClampInPlaceAndThreadedMatchesSerial() {
  const size_t n = 100003;  // several parallel chunks plus a tail
  std::vector<float> x = MakeInput(n, 5);
  std::vector<float> serial(n), threaded(x);
  ClampForward(x.data(), -1.0f, 1.0f, serial.data(), n, nullptr);
  ThreadPool pool(2);
  ClampForward(threaded.data(), -1.0f, 1.0f, threaded.data(), n, &pool);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(serial[i], threaded[i]) << i;
}

void TestAllClampKeepsNaN() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {nan, -1.0f, 7.0f, 3.0f, nan};
  std::vector<float> y(x.size());
  ClampForward(x.data(), 0.0f, 6.0f, y.data(), x.size());
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 6.0f);
  EXPECT_EQ(y[3], 3.0f);
  EXPECT_TRUE(std::isnan(y[4]));
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(ClampKernelsTest);
HWY_EXPORT_AND_TEST_P(ClampKernelsTest, TestAllClampForwardAndBackward);
HWY_EXPORT_AND_TEST_P(ClampKernelsTest, TestAllClampInPlaceAndThreadedMatchesSerial);
HWY_EXPORT_AND_TEST_P(ClampKernelsTest, TestAllClampKeepsNaN);
}  // namespace simdnet
#endif  // HWY_ONCE
