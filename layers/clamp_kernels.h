// Clamp kernels (PyTorch's hardtanh; ReLU6 is Clamp(x, 0, 6)), forward and backward, written
// with Highway (clamp_kernels-inl.h) and dispatched at run time.
#ifndef SIMDNET_LAYERS_CLAMP_KERNELS_H_
#define SIMDNET_LAYERS_CLAMP_KERNELS_H_

#include <cstddef>

#include "hwy/base.h"  // HWY_RESTRICT only

namespace simdnet {

class ThreadPool;

// Computes y[i] = min(max(x[i], lo), hi) for i in [0, n). A NaN input gives NaN (as PyTorch).
// Requires: lo <= hi; x and y are equal or do not overlap. Any alignment. `pool` may be null.
void ClampForward(const float* x, float lo, float hi, float* y, size_t n,
                  ThreadPool* pool = nullptr);

// Computes dx[i] = (lo < x[i] < hi) ? dy[i] : 0 for i in [0, n): PyTorch's hardtanh_backward
// (the gradient is 0 at the clamp edges themselves). x is the forward INPUT.
// Requires: dx equals dy or overlaps neither input. Any alignment. `pool` may be null.
void ClampBackward(const float* x, float lo, float hi, const float* dy, float* dx, size_t n,
                   ThreadPool* pool = nullptr);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CLAMP_KERNELS_H_
