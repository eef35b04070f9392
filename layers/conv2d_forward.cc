// Convolution forward dispatch table: runs plan.forward (im2col GEMM, direct, Winograd,
// depthwise or pixel rows) on the best target the CPU supports; also reports that target's
// vector unit.
#include "layers/conv2d_kernels.h"

#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/conv2d_forward.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "layers/conv_depthwise-inl.h"
#include "layers/conv_direct-inl.h"
#include "layers/conv_gemm-inl.h"
#include "layers/conv_small-inl.h"
#include "layers/conv_winograd-inl.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

ConvTarget ConvTargetT() {
  ConvTarget t;
  t.lanes = hn::Lanes(GemmD());
  t.mr = kGemmMR;
  return t;
}

void Conv2dForwardT(const ConvPlan& plan, const Conv2dShape& s, const float* x, const float* w,
                    const float* bias, float* y, ConvEpilogue epilogue, ThreadPool& pool) {
  const bool relu = epilogue == ConvEpilogue::kRelu;
  switch (plan.forward.algorithm) {
    case ConvAlgorithm::kWinograd:
      if (s.stride_h == 1) {
        ConvForwardWinograd<1>(s, x, w, bias, y, relu, pool);
      } else {
        ConvForwardWinograd<2>(s, x, w, bias, y, relu, pool);
      }
      return;
    case ConvAlgorithm::kWinograd4:
      ConvForwardWinograd<1, 4>(s, x, w, bias, y, relu, pool);
      return;
    case ConvAlgorithm::kDirect:
      // The layout depends on this target's vector width (plan.forward_layout may have been
      // planned for another one).
      ConvForwardDirect(s, PlanDirectLayout(s, ConvTargetT()), x, w, bias, y, relu, pool);
      return;
    case ConvAlgorithm::kDepthwise:
      ConvForwardDepthwise(s, x, w, bias, y, relu, pool);
      return;
    case ConvAlgorithm::kIm2colGemm:
      ConvForwardIm2col(s, x, w, bias, y, relu, pool);
      return;
    case ConvAlgorithm::kPixelRows:
      ConvForwardPixelRows(s, x, w, bias, y, relu, pool);
      return;
    case ConvAlgorithm::kFlippedForward:
    case ConvAlgorithm::kDot:
    case ConvAlgorithm::kChannelLanes:
      break;
  }
  HWY_ABORT("Conv2dForward: algorithm %s does not run the forward pass",
            ConvAlgorithmName(plan.forward.algorithm));
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(ConvTargetT);
HWY_EXPORT(Conv2dForwardT);

ConvTarget CurrentConvTarget() { return HWY_DYNAMIC_DISPATCH(ConvTargetT)(); }

ConvPlan PlanConv2d(const Conv2dShape& s) { return PlanConv2d(s, CurrentConvTarget()); }

void Conv2dForward(const ConvPlan& plan, const Conv2dShape& s, const float* x, const float* w,
                   const float* bias, float* y, ConvEpilogue epilogue, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(Conv2dForwardT)(plan, s, x, w, bias, y, epilogue, pool);
}

void Conv2dForward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                   float* y, ConvEpilogue epilogue, ThreadPool& pool) {
  Conv2dForward(PlanConv2d(s), s, x, w, bias, y, epilogue, pool);
}

}  // namespace simdnet
#endif  // HWY_ONCE
