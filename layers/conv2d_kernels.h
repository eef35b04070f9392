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

// Returns the stride (1 or 2) of the Winograd F(2x2, 3x3) kernels all three passes use for this
// shape, or 0 when they use the direct / GEMM paths: 3x3, equal strides of 1 or 2, no dilation,
// padding <= 2, and >= 32 input and output channels per group (below that the GEMMs do not
// amortize the transforms; measured on Zen 4 against the direct paths, 2 threads: stride 1,
// 32 -> 64 channels on 14x14 gains 1.15-1.4x, 64 -> 64 on 32x32 1.3-1.45x, 128 and 256
// channels 1.3-1.9x; stride 2, 64 -> 128 on 32x32 1.2-1.3x in each pass). Winograd's rounding
// error is bounded by the products of each output's (or weight tap's) neighbours within one
// 2x2 tile, not by its own products alone: see conv2d_kernels_test.cc.
inline size_t Conv2dWinogradStride(const Conv2dShape& s) {
  const bool ok = s.kernel_h == 3 && s.kernel_w == 3 && s.stride_h == s.stride_w &&
                  s.stride_h <= 2 && s.dilation_h == 1 && s.dilation_w == 1 && s.pad_h <= 2 &&
                  s.pad_w <= 2 && s.in_channels / s.groups >= 32 &&
                  s.out_channels / s.groups >= 32;
  return ok ? s.stride_h : 0;
}

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV2D_KERNELS_H_
