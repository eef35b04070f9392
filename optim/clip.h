// Gradient clipping by global L2 norm (Pascanu et al. 2013, "On the difficulty
// of training recurrent neural networks"; torch.nn.utils.clip_grad_norm_) and
// by value (torch.nn.utils.clip_grad_value_). Parameters whose frozen flag is
// set are ignored; parameters frozen only through an optimizer ParamGroup are
// not known here, so callers pass the parameters they train.
#ifndef SIMDNET_OPTIM_CLIP_H_
#define SIMDNET_OPTIM_CLIP_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "layers/layer.h"

namespace simdnet {

// Computes the global norm N = sqrt(sum over non-frozen parameters of sum
// grad^2) and, if N > max_norm, multiplies every non-frozen gradient by
// max_norm / (N + 1e-6) (PyTorch's clip_grad_norm_ coefficient). Returns N
// before clipping. The sum is taken in fixed chunks added in double, so the
// result does not depend on the thread count. InvalidArgument if max_norm is
// not finite and > 0, or a grad's shape differs from its value's;
// FailedPrecondition naming the first parameter whose gradient holds a NaN or
// infinity (gradients are left unchanged then).
absl::StatusOr<double> ClipGradNorm(absl::Span<const NamedParameter> params,
                                    double max_norm);

// Returns the global L2 norm of the non-frozen gradients without changing them
// (for logging).
double GradNorm(absl::Span<const NamedParameter> params);

// Clamps every non-frozen gradient element to [-clip_value, clip_value].
// InvalidArgument if clip_value is not finite and > 0.
absl::Status ClipGradValue(absl::Span<const NamedParameter> params,
                           double clip_value);

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_CLIP_H_
