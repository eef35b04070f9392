// Losses over a batch of logits/predictions: softmax cross-entropy (with label smoothing),
// the multiclass SVM hinge loss (CS231n), mean squared error. Each loss returns its value (mean
// over the batch) and writes the gradient w.r.t. its input. Top-k accuracy: train/metrics.h.
#ifndef SIMDNET_LAYERS_LOSS_H_
#define SIMDNET_LAYERS_LOSS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tensor/tensor.h"

namespace simdnet {

struct SoftmaxCrossEntropyOptions {
  // PyTorch's CrossEntropyLoss(label_smoothing=eps): the target distribution is
  // (1 - eps) * onehot(label) + eps / K (Szegedy et al. 2016). Requires 0 <= eps <= 1.
  float label_smoothing = 0.0f;
};

// Returns mean_i sum_j -t_ij * log softmax(logits_i)_j for logits (N, K) and integer labels
// (N), computed stably (log-softmax subtracts the row max), with t as in the options.
// If dlogits is non-null it is overwritten (resized to (N, K)) with the gradient
// (softmax(logits_i) - t_i) / N.
// InvalidArgument naming the field if logits is not (N, K) with N, K >= 1, labels.size() != N,
// a label is outside [0, K) (naming its index and value), or label_smoothing is not in [0, 1].
absl::StatusOr<float> SoftmaxCrossEntropy(const Tensor& logits,
                                          absl::Span<const int64_t> labels, Tensor* dlogits,
                                          const SoftmaxCrossEntropyOptions& options = {});

struct MulticlassSvmOptions {
  // The hinge margin Delta (CS231n uses 1). Requires a finite value >= 0.
  float margin = 1.0f;
};

// Returns the multiclass SVM loss (Weston & Watkins 1999, as in CS231n):
// mean_i sum_{j != y_i} max(0, s_ij - s_iy + margin), for scores (N, K) and labels (N).
// If dscores is non-null it is overwritten (resized to (N, K)) with the (sub)gradient /N:
// +1 for each j != y with a positive margin term, minus their count at y (0 at the kink).
// InvalidArgument as SoftmaxCrossEntropy, or for a negative / non-finite margin.
absl::StatusOr<float> MulticlassSvm(const Tensor& scores, absl::Span<const int64_t> labels,
                                    Tensor* dscores, const MulticlassSvmOptions& options = {});

// Returns mean over all elements of (prediction - target)^2 (PyTorch MSELoss, reduction
// 'mean'). If dprediction is non-null it is overwritten (resized) with 2 (prediction -
// target) / numel. InvalidArgument naming both shapes if they differ or are empty.
absl::StatusOr<float> MeanSquaredError(const Tensor& prediction, const Tensor& target,
                                       Tensor* dprediction);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_LOSS_H_
