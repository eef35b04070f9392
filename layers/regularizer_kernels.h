// Regularization gradient kernel (the L1 subgradient plus the L2 term, fused in one pass),
// written with Highway (regularizer_kernels-inl.h) and dispatched at run time.
#ifndef SIMDNET_LAYERS_REGULARIZER_KERNELS_H_
#define SIMDNET_LAYERS_REGULARIZER_KERNELS_H_

#include <cstddef>

#include "hwy/base.h"  // HWY_RESTRICT only

namespace simdnet {

// Accumulates grad[i] += l1 * sign(w[i]) + l2 * w[i] for i in [0, n), with sign(0) = 0 (the
// subgradient of |w| PyTorch's torch.sign gives). The gradient of l1 * sum |w| + (l2 / 2) *
// sum w^2. Any alignment; w and grad must not overlap.
void AddRegularizerGradient(const float* HWY_RESTRICT w, float l1, float l2,
                            float* HWY_RESTRICT grad, size_t n);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_REGULARIZER_KERNELS_H_
