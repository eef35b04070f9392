// Convolution kernels for NCHW batches: forward, backward-data and backward-weights (+ bias),
// with stride, padding, dilation and groups. Each pass runs the algorithm a ConvPlan names
// (conv_plan.h): PlanConv2d picks it per shape, tests and benchmarks may force any applicable
// one. The algorithm families live in conv_{gemm,direct,winograd,winograd_backward,
// weight_grad,depthwise}-inl.h over conv_common-inl.h and tensor/gemm-inl.h's micro-kernel;
// every one is tested against conv2d_reference.h on every compiled ISA. Working buffers are
// kept per thread across calls.
#ifndef SIMDNET_LAYERS_CONV2D_KERNELS_H_
#define SIMDNET_LAYERS_CONV2D_KERNELS_H_

#include <cstddef>

#include "layers/conv_common.h"
#include "layers/conv_plan.h"

namespace simdnet {

class ThreadPool;

// Returns the vector unit of the best target this CPU supports (the one the kernels dispatch
// to), and the plan for s on it.
ConvTarget CurrentConvTarget();
ConvPlan PlanConv2d(const Conv2dShape& s);

// Computes y = epilogue(conv(x, w) + bias) with plan.forward. bias may be null (no bias). y is
// overwritten. Requires: plan was made for s (PlanConv2d or ForceConvAlgorithm with s; any
// target: the batch size and the vector width only change how, not which, algorithm runs).
void Conv2dForward(const ConvPlan& plan, const Conv2dShape& s, const float* x, const float* w,
                   const float* bias, float* y, ConvEpilogue epilogue, ThreadPool& pool);

// Computes dx = gradient of the loss w.r.t. x given dy (batch, out_channels, out_h, out_w) with
// plan.backward_data. dx is overwritten.
void Conv2dBackwardData(const ConvPlan& plan, const Conv2dShape& s, const float* dy,
                        const float* w, float* dx, ThreadPool& pool);

// Accumulates dw += gradient w.r.t. w, and dbias += sum of dy over (batch, out_h, out_w) when
// dbias is non-null, with plan.backward_weights.
void Conv2dBackwardWeights(const ConvPlan& plan, const Conv2dShape& s, const float* x,
                           const float* dy, float* dw, float* dbias, ThreadPool& pool);

// Computes dx as Conv2dBackwardData and accumulates dw (and dbias when non-null) as
// Conv2dBackwardWeights, with bit-identical results; where both passes of the plan are
// kDepthwise on a shape the fused kernel handles (stride 1 within the kernel's reach, column
// stride 2, <= 9 taps), in one pass that reads x and dy once while each plane is in cache.
void Conv2dBackwardDataAndWeights(const ConvPlan& plan, const Conv2dShape& s, const float* x,
                                  const float* dy, const float* w, float* dx, float* dw,
                                  float* dbias, ThreadPool& pool);

// The same with PlanConv2d(s).
void Conv2dForward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                   float* y, ConvEpilogue epilogue, ThreadPool& pool);
void Conv2dBackwardData(const Conv2dShape& s, const float* dy, const float* w, float* dx,
                        ThreadPool& pool);
void Conv2dBackwardWeights(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                           float* dbias, ThreadPool& pool);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV2D_KERNELS_H_
