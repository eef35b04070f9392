// Per-target tests of the augmentation kernels against the double-precision references, over the
// standard size sweep and misalignments; the public dispatched functions are checked too.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/augment_kernels.h"
#include "data/augment_kernels_reference.h"
#include "tensor/rng.h"
#include "tensor/simd_targets.h"  // must precede foreach_target: project target policy
#include "tensor/test_util.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "data/augment_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "data/augment_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

std::vector<float> RandomFloats(size_t n, uint64_t seed, float lo, float hi) {
  std::vector<float> v(n);
  Rng rng(seed);
  if (n) rng.FillUniform(v.data(), n, lo, hi);
  return v;
}

void TestAllU8ToFloat() {
  for (size_t n : test::KernelTestSizes()) {
    for (size_t mis : test::KernelTestMisalignments()) {
      std::vector<uint8_t> in(n + mis);
      for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
      std::vector<float> out(n + mis, -1.0f), pub(n + mis, -1.0f);
      std::vector<double> ref(n);
      U8ToFloatImpl(in.data() + mis, out.data() + mis, n, 1.0f / 255.0f);
      U8ToFloat(in.data() + mis, pub.data() + mis, n, 1.0f / 255.0f);
      reference::U8ToFloat(in.data() + mis, ref.data(), n, 1.0 / 255.0);
      EXPECT_TRUE(test::AllNear(out.data() + mis, ref.data(), n, 1e-7, 1e-6)) << "n " << n;
      EXPECT_TRUE(test::AllNear(pub.data() + mis, ref.data(), n, 1e-7, 1e-6)) << "n " << n;
      for (size_t i = 0; i < mis; ++i) EXPECT_EQ(out[i], -1.0f);  // no write before the start
    }
  }
}

void TestAllAffineClamp() {
  for (size_t n : test::KernelTestSizes()) {
    for (size_t mis : test::KernelTestMisalignments()) {
      const std::vector<float> in = RandomFloats(n + mis, n * 7 + mis, -2.0f, 2.0f);
      std::vector<float> out(n + mis + 1, 9.0f);
      std::vector<double> ref(n);
      AffineClampImpl(in.data() + mis, out.data() + mis, n, 1.5f, 0.25f, -1.0f, 1.0f);
      reference::AffineClamp(in.data() + mis, ref.data(), n, 1.5, 0.25, -1.0, 1.0);
      EXPECT_TRUE(test::AllNear(out.data() + mis, ref.data(), n, 1e-6, 1e-6)) << "n " << n;
      EXPECT_EQ(out[n + mis], 9.0f) << "wrote past the end, n " << n;
      // In place through the public function gives the same values.
      std::vector<float> inplace = in;
      AffineClamp(inplace.data() + mis, inplace.data() + mis, n, 1.5f, 0.25f, -1.0f, 1.0f);
      EXPECT_TRUE(test::AllNear(inplace.data() + mis, ref.data(), n, 1e-6, 1e-6));
    }
  }
}

void TestAllColorMatrix3Clamp() {
  const float m[12] = {0.9f, 0.2f, -0.1f, 0.05f, 0.1f, 0.8f, 0.1f, -0.02f, -0.2f, 0.3f, 1.1f, 0.0f};
  for (size_t plane : test::KernelTestSizes()) {
    for (size_t mis : test::KernelTestMisalignments()) {
      const std::vector<float> in = RandomFloats(3 * plane + mis, plane + 3 * mis, 0.0f, 1.0f);
      std::vector<float> out(3 * plane + mis + 1, 7.0f);
      std::vector<double> ref(3 * plane);
      ColorMatrix3ClampImpl(in.data() + mis, out.data() + mis, plane, m, 0.0f, 1.0f);
      reference::ColorMatrix3Clamp(in.data() + mis, ref.data(), plane, m, 0.0, 1.0);
      EXPECT_TRUE(test::AllNear(out.data() + mis, ref.data(), 3 * plane, 1e-6, 1e-5))
          << "plane " << plane;
      EXPECT_EQ(out[3 * plane + mis], 7.0f);
      std::vector<float> inplace = in;
      ColorMatrix3Clamp(inplace.data() + mis, inplace.data() + mis, plane, m, 0.0f, 1.0f);
      EXPECT_TRUE(test::AllNear(inplace.data() + mis, ref.data(), 3 * plane, 1e-6, 1e-5));
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(AugmentKernelsTest);
HWY_EXPORT_AND_TEST_P(AugmentKernelsTest, TestAllU8ToFloat);
HWY_EXPORT_AND_TEST_P(AugmentKernelsTest, TestAllAffineClamp);
HWY_EXPORT_AND_TEST_P(AugmentKernelsTest, TestAllColorMatrix3Clamp);
}  // namespace simdnet
#endif  // HWY_ONCE
