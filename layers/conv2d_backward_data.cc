// Convolution backward-data dispatch table: runs plan.backward_data (GEMM + col2im, stride-2
// Winograd or depthwise) on the best target the CPU supports; the flipped-weight forward runs
// through Conv2dForward with plan.flipped.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "layers/conv2d_kernels.h"
#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/conv2d_backward_data.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "layers/conv_depthwise-inl.h"
#include "layers/conv_gemm-inl.h"
#include "layers/conv_winograd_backward-inl.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void Conv2dBackwardDataT(const ConvPlan& plan, const Conv2dShape& s, const float* dy,
                         const float* w, float* dx, ThreadPool& pool) {
  switch (plan.backward_data.algorithm) {
    case ConvAlgorithm::kWinograd:
      ConvBackwardDataWinogradStride2(s, dy, w, dx, pool);
      return;
    case ConvAlgorithm::kDepthwise:
      ConvBackwardDataDepthwise(s, dy, w, dx, pool);
      return;
    case ConvAlgorithm::kIm2colGemm:
      ConvBackwardDataGemm(s, dy, w, dx, pool);
      return;
    case ConvAlgorithm::kFlippedForward:
    case ConvAlgorithm::kPixelRows:
    case ConvAlgorithm::kDirect:
    case ConvAlgorithm::kDot:
    case ConvAlgorithm::kChannelLanes:
    case ConvAlgorithm::kWinograd4:
      break;
  }
  HWY_ABORT("Conv2dBackwardData: algorithm %s is not a per-target backward-data kernel",
            ConvAlgorithmName(plan.backward_data.algorithm));
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(Conv2dBackwardDataT);

namespace {

// dx is the forward convolution of dy with the spatially flipped, channel-transposed weights
// and padding dilation * (R - 1) - pad (FlippedConvShape): the forward paths with no column
// buffer. wt is (in_channels, kg, R, S): wt[g*cg + c][k][R-1-r][S-1-t] = w[g*kg + k][c][r][t];
// one task per (group, slice of input channels) writes its own rows of wt.
void BackwardDataFlipped(const ConvPlan& plan, const Conv2dShape& s, const float* dy,
                         const float* w, float* dx, ThreadPool& pool) {
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  const size_t rs = s.kernel_h * s.kernel_w, crs = cg * rs;
  float* wt = ConvScratch(ConvSlot::kFlippedWeights, s.out_channels * crs);
  const bool parallel = pool.NumThreads() > 1 && s.out_channels * crs >= (size_t{1} << 16);
  const size_t slices = parallel ? std::min(cg, 4 * pool.NumThreads()) : 1;
  detail::RunTasks(pool, parallel, s.groups * slices, [&](uint64_t task, size_t) {
    const size_t g = task / slices, slice = task % slices;
    const size_t c0 = cg * slice / slices, c1 = cg * (slice + 1) / slices;
    for (size_t c = c0; c < c1; ++c) {
      for (size_t k = 0; k < kg; ++k) {
        const float* src = w + ((g * kg + k) * cg + c) * rs;
        float* dst = wt + ((g * cg + c) * kg + k) * rs;
        for (size_t i = 0; i < rs; ++i) dst[rs - 1 - i] = src[i];
      }
    }
  });
  ConvPlan flipped;
  flipped.forward = plan.flipped;
  flipped.forward_layout = plan.flipped_layout;
  Conv2dForward(flipped, FlippedConvShape(s), dy, wt, nullptr, dx, ConvEpilogue::kNone, pool);
}

}  // namespace

void Conv2dBackwardData(const ConvPlan& plan, const Conv2dShape& s, const float* dy,
                        const float* w, float* dx, ThreadPool& pool) {
  if (plan.backward_data.algorithm == ConvAlgorithm::kFlippedForward) {
    BackwardDataFlipped(plan, s, dy, w, dx, pool);
    return;
  }
  HWY_DYNAMIC_DISPATCH(Conv2dBackwardDataT)(plan, s, dy, w, dx, pool);
}

void Conv2dBackwardData(const Conv2dShape& s, const float* dy, const float* w, float* dx,
                        ThreadPool& pool) {
  Conv2dBackwardData(PlanConv2d(s), s, dy, w, dx, pool);
}

}  // namespace simdnet
#endif  // HWY_ONCE
