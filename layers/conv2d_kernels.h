// Convolution kernels for NCHW batches: forward, backward-data and backward-weights (+ bias),
// with stride, padding, dilation and groups. Algorithms (GEMM with fused im2col packing, 1x1,
// direct, Winograd, ...) are chosen automatically per shape; every path is tested against
// conv2d_reference.h on every compiled ISA. Working buffers are kept across calls.
#ifndef SIMDNET_LAYERS_CONV2D_KERNELS_H_
#define SIMDNET_LAYERS_CONV2D_KERNELS_H_

#include <cstddef>

namespace simdnet {

class ThreadPool;

// Shapes of one convolution. Input x is (batch, in_channels, in_h, in_w); weights w are
// (out_channels, in_channels / groups, kernel_h, kernel_w); bias is (out_channels); output y is
// (batch, out_channels, out_h(), out_w()).
// Requires (validated by the layer's Create, trusted here): all sizes >= 1 except pads >= 0;
// groups divides in_channels and out_channels; out_h() >= 1 and out_w() >= 1.
struct Conv2dShape {
  size_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  size_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  size_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  size_t dilation_h = 1, dilation_w = 1, groups = 1;

  size_t out_h() const {
    return (in_h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1;
  }
  size_t out_w() const {
    return (in_w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1;
  }
};

// What the forward pass applies after adding the bias (fused epilogue).
enum class ConvEpilogue { kNone, kRelu };

// Computes y = epilogue(conv(x, w) + bias). bias may be null (no bias). y is overwritten.
void Conv2dForward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                   float* y, ConvEpilogue epilogue, ThreadPool& pool);

// Computes dx = gradient of the loss w.r.t. x given dy (batch, out_channels, out_h, out_w).
// dx is overwritten.
void Conv2dBackwardData(const Conv2dShape& s, const float* dy, const float* w, float* dx,
                        ThreadPool& pool);

// Accumulates dw += gradient w.r.t. w, and dbias += sum of dy over (batch, out_h, out_w) when
// dbias is non-null.
void Conv2dBackwardWeights(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                           float* dbias, ThreadPool& pool);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV2D_KERNELS_H_
