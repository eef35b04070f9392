// Tests of the peak-FLOPS probe: sane positive values per target, caching, and that the
// caller's dispatch pin is restored.
// clang-format off
#include "tensor/simd_targets.h"  // first: same target list as the libraries
// clang-format on

#include "bench/peak.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"

#if HWY_DISABLED_TARGETS == 0
#error "tensor/simd_targets.h must be included before any Highway header."
#endif

namespace simdnet {
namespace bench {
namespace {

TEST(PeakTest, PositiveFiniteAndCachedPerTarget) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    const double gflops = MeasurePeakGflops(target, 1);
    EXPECT_TRUE(std::isfinite(gflops));
    // Any x86 core of the last 20 years does more than 0.1 GFLOPS, and none of one core
    // does 1000.
    EXPECT_GT(gflops, 0.1);
    EXPECT_LT(gflops, 1000.0);
    EXPECT_EQ(MeasurePeakGflops(target, 1), gflops);  // cached
  }
}

TEST(PeakTest, RestoresTheCallersTargetPin) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  const int64_t last = targets.back();  // the weakest, e.g. SCALAR
  hwy::SetSupportedTargetsForTest(last);
  MeasurePeakGflops(targets.front(), 1);
  EXPECT_EQ(hwy::SupportedTargets() & HWY_TARGETS, last);
  hwy::SetSupportedTargetsForTest(0);
}

TEST(PeakTest, FlopsPerIterMatchesVectorWidth) {
  // 12 chains x lanes x 2 flops: the SCALAR target has one lane.
  hwy::SetSupportedTargetsForTest(HWY_SCALAR);
  EXPECT_EQ(FmaFlopsPerIter(), 24.0);
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace
}  // namespace bench
}  // namespace simdnet
