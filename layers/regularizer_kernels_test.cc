// Per-ISA tests of the regularization gradient kernel (the -inl.h template and the public
// dispatched function) against a plain double reference, over odd sizes and misalignments.
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "layers/regularizer_kernels.h"
#include "tensor/simd_targets.h"  // before foreach_target: same target list as the library

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/regularizer_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "hwy/tests/test_util-inl.h"
#include "layers/regularizer_kernels-inl.h"
#include "tensor/test_util.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace {

double Sign(double w) { return w > 0 ? 1.0 : (w < 0 ? -1.0 : 0.0); }

// Runs `fn` (the template or the public function) on n elements at the given misalignment and
// compares against g + l1 * sign(w) + l2 * w in double (bound: 2 float roundings, 1e-6 rel).
template <class Fn>
void CheckOne(size_t n, size_t misalign, float l1, float l2, const Fn& fn) {
  std::mt19937 gen(static_cast<unsigned>(n * 7 + misalign));
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> w_buf(n + misalign), g_buf(n + misalign);
  float* w = w_buf.data() + misalign;
  float* g = g_buf.data() + misalign;
  for (size_t i = 0; i < n; ++i) {
    w[i] = (i % 5 == 0) ? 0.0f : dist(gen);  // exact zeros exercise sign(0) = 0
    if (i % 11 == 3) w[i] = -0.0f;
    g[i] = dist(gen);
  }
  std::vector<double> expected(n);
  for (size_t i = 0; i < n; ++i) {
    expected[i] = double{g[i]} + double{l1} * Sign(w[i]) + double{l2} * double{w[i]};
  }
  fn(w, l1, l2, g, n);
  EXPECT_TRUE(test::AllNear(g, expected.data(), n, 1e-6, 1e-6))
      << "n=" << n << " misalign=" << misalign << " l1=" << l1 << " l2=" << l2;
}

void TestAllRegularizerGradient() {
  for (size_t n : test::KernelTestSizes()) {
    for (size_t misalign : test::KernelTestMisalignments()) {
      for (const auto& [l1, l2] : {std::pair<float, float>{0.0f, 0.0f}, {1e-3f, 0.0f},
                                   {0.0f, 5e-4f}, {0.25f, 0.5f}}) {
        CheckOne(n, misalign, l1, l2,
                 [](const float* w, float a, float b, float* g, size_t m) {
                   AddRegularizerGradientSpan(w, a, b, g, m);
                 });
        // The public entry point dispatches to the target pinned by the test fixture.
        CheckOne(n, misalign, l1, l2, [](const float* w, float a, float b, float* g, size_t m) {
          AddRegularizerGradient(w, a, b, g, m);
        });
      }
    }
  }
}

void TestAllNanWeightPoisonsGradient() {
  std::vector<float> w = {std::numeric_limits<float>::quiet_NaN(), 1.0f, -1.0f, 0.0f, 2.0f};
  std::vector<float> g(w.size(), 0.0f);
  AddRegularizerGradientSpan(w.data(), 0.5f, 0.0f, g.data(), w.size());
  EXPECT_TRUE(std::isnan(g[0]));
  EXPECT_EQ(g[1], 0.5f);
  EXPECT_EQ(g[2], -0.5f);
  EXPECT_EQ(g[3], 0.0f);
  EXPECT_EQ(g[4], 0.5f);
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(RegularizerKernelsTest);
HWY_EXPORT_AND_TEST_P(RegularizerKernelsTest, TestAllRegularizerGradient);
HWY_EXPORT_AND_TEST_P(RegularizerKernelsTest, TestAllNanWeightPoisonsGradient);
}  // namespace simdnet
#endif  // HWY_ONCE
