// Losses over a batch of logits/predictions: softmax cross-entropy (with label smoothing, class
// weights, ignore_index and reductions), negative log-likelihood on log-probabilities, the
// multiclass SVM hinge loss (CS231n), mean squared error. Each loss returns its value (by
// default the mean over the batch) and writes the gradient w.r.t. its input. Top-k accuracy:
// train/metrics.h.
#ifndef SIMDNET_LAYERS_LOSS_H_
#define SIMDNET_LAYERS_LOSS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tensor/tensor.h"

namespace simdnet {

// How per-sample losses l_i are combined (PyTorch's `reduction`).
enum class LossReduction {
  // sum_i l_i / sum_i w[y_i] over non-ignored samples (PyTorch's weighted mean; the plain mean
  // over non-ignored samples without class weights). When every target is ignored this is 0/0:
  // the loss is NaN and the gradient 0, as PyTorch 1.13 returns.
  kMean,
  // sum_i l_i.
  kSum,
  // No reduction: the returned value is sum_i l_i and the gradient is d(sum_i l_i) / d input;
  // read the N losses through per_sample_losses.
  kNone,
};

// The target options shared by the classification losses below, with PyTorch's semantics
// (torch.nn.functional.cross_entropy / nll_loss).
struct ClassTargetOptions {
  // Per-class weights w (K entries, finite and >= 0); empty means all 1. Sample i's loss is
  // scaled by w[y_i] (label smoothing: see SoftmaxCrossEntropy).
  std::vector<float> class_weights;
  // Samples whose label equals this value contribute no loss and get a zero gradient row; the
  // value may lie outside [0, K). Unset (the default) ignores nothing: PyTorch's default -100
  // must be set explicitly.
  std::optional<int64_t> ignore_index;
  LossReduction reduction = LossReduction::kMean;
  // If non-null, overwritten with the N per-sample losses l_i (0 for ignored samples), in every
  // reduction.
  std::vector<float>* per_sample_losses = nullptr;
};

struct SoftmaxCrossEntropyOptions : ClassTargetOptions {
  // PyTorch's CrossEntropyLoss(label_smoothing=eps): the target distribution is
  // (1 - eps) * onehot(label) + eps / K (Szegedy et al. 2016). Requires 0 <= eps <= 1.
  float label_smoothing = 0.0f;
};

// Returns the reduced softmax cross-entropy for logits (N, K) and integer labels (N), computed
// stably (log-softmax subtracts the row max). With log p = log_softmax(logits_i), sample i's loss
// is l_i = (1 - eps) w[y_i] (-log p_{y_i}) + eps / K sum_j w_j (-log p_j) (PyTorch 1.13's
// weighted label smoothing), reduced as options.reduction says; without weights, ignore_index
// or a reduction this is mean_i sum_j -t_ij log p_j.
// If dlogits is non-null it is overwritten (resized to (N, K)) with the gradient of the
// returned value (for kMean, (softmax(logits_i) - t_i) / N without weights).
// InvalidArgument naming the field if logits is not (N, K) with N, K >= 1, labels.size() != N,
// a label other than ignore_index is outside [0, K) (naming its index and value),
// label_smoothing is not in [0, 1], or class_weights does not have K finite entries >= 0.
absl::StatusOr<float> SoftmaxCrossEntropy(const Tensor& logits,
                                          absl::Span<const int64_t> labels, Tensor* dlogits,
                                          const SoftmaxCrossEntropyOptions& options = {});

using NllLossOptions = ClassTargetOptions;

// Returns the reduced negative log-likelihood (PyTorch F.nll_loss) of log-probabilities
// log_probs (N, K) (e.g. a LogSoftmax layer's output; not checked to be normalized) and labels
// (N): l_i = -w[y_i] log_probs[i, y_i], reduced as options.reduction says.
// If dlog_probs is non-null it is overwritten (resized to (N, K)) with the gradient of the
// returned value: -w[y_i] / D at (i, y_i) and 0 elsewhere (D as the reduction says).
// InvalidArgument as SoftmaxCrossEntropy (naming "NllLoss").
absl::StatusOr<float> NllLoss(const Tensor& log_probs, absl::Span<const int64_t> labels,
                              Tensor* dlog_probs, const NllLossOptions& options = {});

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
