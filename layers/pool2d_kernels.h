// Pooling kernels for NCHW batches (max with argmax for backward, average), vectorized with
// Highway and dispatched at run time.
#ifndef SIMDNET_LAYERS_POOL2D_KERNELS_H_
#define SIMDNET_LAYERS_POOL2D_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace simdnet {

class ThreadPool;

// x is (batch, channels, in_h, in_w); y is (batch, channels, out_h(), out_w()).
// Requires: kernel, stride >= 1; pad <= kernel / 2 (as PyTorch); out_h(), out_w() >= 1.
struct Pool2dShape {
  size_t batch = 1, channels = 1, in_h = 1, in_w = 1;
  size_t kernel_h = 2, kernel_w = 2, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0;

  size_t out_h() const { return (in_h + 2 * pad_h - kernel_h) / stride_h + 1; }
  size_t out_w() const { return (in_w + 2 * pad_w - kernel_w) / stride_w + 1; }
};

// y = max over each window (padding never wins). argmax (same shape as y) receives the index
// h * in_w + w of the maximum inside its input plane (first maximum on ties); may be null.
void MaxPool2dForward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax,
                      ThreadPool& pool);
// dx = scatter of dy to the argmax positions; dx overwritten.
void MaxPool2dBackward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx,
                       ThreadPool& pool);
// y = mean over each window; the divisor counts padding cells when count_include_pad
// (PyTorch's default), else only cells inside the input.
void AvgPool2dForward(const Pool2dShape& s, const float* x, float* y, bool count_include_pad,
                      ThreadPool& pool);
// dx = dy spread evenly over each window; dx overwritten.
void AvgPool2dBackward(const Pool2dShape& s, const float* dy, float* dx, bool count_include_pad,
                       ThreadPool& pool);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_POOL2D_KERNELS_H_
