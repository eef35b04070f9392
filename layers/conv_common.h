// Shapes of one convolution and the geometry every convolution algorithm and the plan share
// (SIMD-free).
#ifndef SIMDNET_LAYERS_CONV_COMMON_H_
#define SIMDNET_LAYERS_CONV_COMMON_H_

#include <cstddef>

namespace simdnet {

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

// The virtual pixel grid of the direct paths: the zero-padded image split into stride phases
// has rows of VirtualWidth(s) = ceil((in_w + 2 pad_w) / stride_w) pixels, and output (oh, ow)
// is virtual pixel oh * VirtualWidth(s) + ow, so VirtualPixels(s) = (out_h - 1) * width + out_w
// cover every output (the columns ow >= out_w are computed and discarded).
inline size_t ConvVirtualWidth(const Conv2dShape& s) {
  return (s.in_w + 2 * s.pad_w + s.stride_w - 1) / s.stride_w;
}
inline size_t ConvVirtualPixels(const Conv2dShape& s) {
  return (s.out_h() - 1) * ConvVirtualWidth(s) + s.out_w();
}

// Returns whether the convolution is depthwise: one input and one output channel per group.
inline bool IsDepthwise(const Conv2dShape& s) {
  return s.groups == s.in_channels && s.groups == s.out_channels;
}

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV_COMMON_H_
