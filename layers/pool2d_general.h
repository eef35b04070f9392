// Scalar pooling kernels for the window geometry the SIMD kernels of pool2d_kernels.h do not
// cover: asymmetric padding, dilation, ceil-mode output sizes and a fixed average divisor.
// Plain loops: Pool2d runs them only for those options and keeps the SIMD kernels otherwise.
#ifndef SIMDNET_LAYERS_POOL2D_GENERAL_H_
#define SIMDNET_LAYERS_POOL2D_GENERAL_H_

#include <cstddef>
#include <cstdint>

namespace simdnet {

// x is (batch, channels, in_h, in_w); y is (batch, channels, out_h, out_w). Window (oh, ow)
// reads input rows oh * stride_h - pad_top + r * dilation_h, r < kernel_h (columns likewise).
// The padded extent is rows [-pad_top, in_h + pad_bottom) and columns [-pad_left,
// in_w + pad_right).
// Requires: kernel, stride, dilation >= 1; out_h, out_w >= 1; every window starts inside the
// padded extent.
struct Pool2dGeometry {
  size_t batch = 1, channels = 1, in_h = 1, in_w = 1;
  size_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  size_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  size_t out_h = 1, out_w = 1;
};

// y = max over the input cells of each window (padding never wins); argmax (same shape as y,
// may be null) receives the index h * in_w + w of the first maximum in (row, column) scan
// order. A window holding no input cell yields -infinity and index -1.
void MaxPool2dForwardGeneral(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax);
// dx (overwritten) = dy scattered to the argmax positions (index -1 contributes nothing).
void MaxPool2dBackwardGeneral(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                              float* dx);
// y = sum over each window / divisor, where divisor = divisor_override when > 0, else the
// window's cells inside the padded extent when count_include_pad (cells that ceil mode adds
// beyond it never count, as PyTorch), else its cells inside the input.
// Requires: dilation 1 (average pooling has none); divisor_override >= 0.
void AvgPool2dForwardGeneral(const Pool2dGeometry& g, const float* x, float* y,
                             bool count_include_pad, int64_t divisor_override);
// dx (overwritten) = each dy / divisor added over its window's input cells.
void AvgPool2dBackwardGeneral(const Pool2dGeometry& g, const float* dy, float* dx,
                              bool count_include_pad, int64_t divisor_override);

// Max unpooling over `planes` planes: y (planes, out_plane) is overwritten with zeros and each
// x[p * in_plane + i] is written to y[p * out_plane + indices[p * in_plane + i]] (in order, so
// the last of several equal indices wins; index -1 is skipped).
// Requires: every index is -1 or in [0, out_plane).
void MaxUnpool2dForward(size_t planes, size_t in_plane, size_t out_plane, const int32_t* indices,
                        const float* x, float* y);
// dx[p * in_plane + i] = dy[p * out_plane + indices[p * in_plane + i]] (0 for index -1): the
// gradient of MaxUnpool2dForward as PyTorch computes it (a gather).
void MaxUnpool2dBackward(size_t planes, size_t in_plane, size_t out_plane, const int32_t* indices,
                         const float* dy, float* dx);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_POOL2D_GENERAL_H_
