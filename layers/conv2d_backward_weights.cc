// Convolution backward-weights dispatch table: runs plan.backward_weights (im2col GEMM, direct,
// Winograd, dot product, depthwise or channel lanes) on the best target the CPU supports.
#include "layers/conv2d_kernels.h"

#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/conv2d_backward_weights.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "layers/conv_depthwise-inl.h"
#include "layers/conv_direct-inl.h"
#include "layers/conv_gemm-inl.h"
#include "layers/conv_small-inl.h"
#include "layers/conv_weight_grad-inl.h"
#include "layers/conv_winograd_backward-inl.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void Conv2dBackwardWeightsT(const ConvPlan& plan, const Conv2dShape& s, const float* x,
                            const float* dy, float* dw, float* dbias, ThreadPool& pool) {
  const bool parallel = detail::ConvParallel(s, pool);
  switch (plan.backward_weights.algorithm) {
    case ConvAlgorithm::kWinograd:
      if (dbias != nullptr) ConvBiasGradImpl(s, dy, dbias, pool, parallel);
      if (s.stride_h == 1) {
        ConvBackwardWeightsWinograd<1>(s, x, dy, dw, pool, parallel);
      } else {
        ConvBackwardWeightsWinograd<2>(s, x, dy, dw, pool, parallel);
      }
      return;
    case ConvAlgorithm::kWinograd4:
      if (dbias != nullptr) ConvBiasGradImpl(s, dy, dbias, pool, parallel);
      ConvBackwardWeightsWinograd<1, 4>(s, x, dy, dw, pool, parallel);
      return;
    case ConvAlgorithm::kDot:
      ConvBackwardWeightsDot(s, x, dy, dw, dbias, pool, parallel);  // fuses the bias sums
      return;
    case ConvAlgorithm::kDirect:
      ConvBackwardWeightsDirect(s, x, dy, dw, dbias, pool, parallel);  // fuses the bias sums
      return;
    case ConvAlgorithm::kDepthwise:
      ConvBackwardWeightsDepthwise(s, x, dy, dw, dbias, pool);  // fuses the bias sums
      return;
    case ConvAlgorithm::kChannelLanes:
      ConvBackwardWeightsChannelLanes(s, x, dy, dw, dbias, pool, parallel);  // fuses the bias
      return;
    case ConvAlgorithm::kIm2colGemm:
      if (dbias != nullptr) ConvBiasGradImpl(s, dy, dbias, pool, parallel);
      ConvBackwardWeightsIm2col(s, x, dy, dw, pool, parallel);
      return;
    case ConvAlgorithm::kFlippedForward:
    case ConvAlgorithm::kPixelRows:
      break;
  }
  HWY_ABORT("Conv2dBackwardWeights: algorithm %s does not run backward-weights",
            ConvAlgorithmName(plan.backward_weights.algorithm));
}

// Runs both backward passes in one when the plan's are depthwise and the fused kernel handles
// s; returns whether it did.
bool Conv2dBackwardFusedT(const ConvPlan& plan, const Conv2dShape& s, const float* x,
                          const float* dy, const float* w, float* dx, float* dw, float* dbias,
                          ThreadPool& pool) {
  if (plan.backward_data.algorithm != ConvAlgorithm::kDepthwise ||
      plan.backward_weights.algorithm != ConvAlgorithm::kDepthwise ||
      !DepthwiseBackwardApplies(s)) {
    return false;
  }
  ConvBackwardDepthwise(s, x, dy, w, dx, dw, dbias, pool);
  return true;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(Conv2dBackwardWeightsT);
HWY_EXPORT(Conv2dBackwardFusedT);

void Conv2dBackwardWeights(const ConvPlan& plan, const Conv2dShape& s, const float* x,
                           const float* dy, float* dw, float* dbias, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(Conv2dBackwardWeightsT)(plan, s, x, dy, dw, dbias, pool);
}

void Conv2dBackwardDataAndWeights(const ConvPlan& plan, const Conv2dShape& s, const float* x,
                                  const float* dy, const float* w, float* dx, float* dw,
                                  float* dbias, ThreadPool& pool) {
  if (HWY_DYNAMIC_DISPATCH(Conv2dBackwardFusedT)(plan, s, x, dy, w, dx, dw, dbias, pool)) return;
  Conv2dBackwardData(plan, s, dy, w, dx, pool);
  Conv2dBackwardWeights(plan, s, x, dy, dw, dbias, pool);
}

void Conv2dBackwardWeights(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                           float* dbias, ThreadPool& pool) {
  Conv2dBackwardWeights(PlanConv2d(s), s, x, dy, dw, dbias, pool);
}

}  // namespace simdnet
#endif  // HWY_ONCE
