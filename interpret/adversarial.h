// Adversarial examples in pixel space ([0, 1] images): the fast gradient sign method (Goodfellow,
// Shlens & Szegedy 2015), the iterative targeted attack that makes "fooling images" (Kurakin,
// Goodfellow & Bengio 2017, "Adversarial examples in the physical world": the iterative
// least-likely-class method with a chosen target), its untargeted form (their "basic iterative
// method"), and an accuracy-versus-epsilon sweep over a data set. Every attack is batched: one
// forward and one input-gradient backward per step for all images.
#ifndef SIMDNET_INTERPRET_ADVERSARIAL_H_
#define SIMDNET_INTERPRET_ADVERSARIAL_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "data/dataset.h"
#include "interpret/source.h"
#include "tensor/tensor.h"

namespace simdnet {

// Returns the FGSM image x' = clip(x + epsilon * sign(d loss / d x), 0, 1) for pixels
// (N, C, H, W), loss = softmax cross-entropy of labels[i] (the true or the predicted class), an
// untargeted attack. epsilon = 0 returns the pixels unchanged (bit for bit).
// InvalidArgument "--epsilon=-1: must be >= 0" for a negative or non-finite epsilon, for labels
// outside [0, K) or labels.size() != N, and for a wrong image shape.
absl::StatusOr<Tensor> Fgsm(PixelModel& model, const Tensor& pixels,
                            absl::Span<const int64_t> labels, float epsilon);

struct IterativeAttackOptions {
  float epsilon = 0.1f;     // L_inf radius around the original, in pixel units; >= 0
  float alpha = 0.01f;      // step size per iteration, in pixel units; > 0
  int64_t max_steps = 100;  // iterations at most; >= 1
};

// Returns OK or InvalidArgument naming the flag: "--epsilon=-1: must be >= 0",
// "--alpha=0: must be > 0", "--max_steps=0: must be >= 1".
absl::Status ValidateIterativeAttackOptions(const IterativeAttackOptions& options);

// What the targeted attack did to one image.
struct TargetedAttackResult {
  int64_t target = 0;
  int64_t steps = 0;         // iterations taken (0 if the model already predicted the target)
  bool success = false;      // the model predicts the target on the result
  int64_t class_before = 0;  // predicted class of the original
  int64_t class_after = 0;   // predicted class of the result
  float p_original_before = 0.0f;  // probability of class_before on the original ...
  float p_original_after = 0.0f;   // ... and on the result
  float p_target_before = 0.0f;    // probability of the target on the original ...
  float p_target_after = 0.0f;     // ... and on the result
  float linf = 0.0f;  // max |x' - x| (pixel units), <= epsilon
  float l2 = 0.0f;    // ||x' - x||_2 over all C*H*W pixels (pixel units)
};

// Runs the iterative targeted attack (Kurakin et al. 2017): repeat
// x <- Proj(x + alpha * sign(d log p_target(x) / d x)), where Proj clips into the L_inf ball of
// radius epsilon around the original and into [0, 1], for each image until the model predicts
// targets[i] (that image then stops moving) or max_steps iterations. *adversarial (if non-null)
// receives the results (N, C, H, W). InvalidArgument naming "--target" for a target outside
// [0, K), the ValidateIterativeAttackOptions errors, and a wrong image shape.
absl::StatusOr<std::vector<TargetedAttackResult>> TargetedAttack(
    PixelModel& model, const Tensor& pixels, absl::Span<const int64_t> targets,
    const IterativeAttackOptions& options, Tensor* adversarial = nullptr);

// Returns the untargeted iterative attack (Kurakin et al.'s basic iterative method): max_steps
// iterations of x <- Proj(x + alpha * sign(d loss / d x)), loss = cross-entropy of labels[i],
// with no early stop. Errors as Fgsm and ValidateIterativeAttackOptions.
absl::StatusOr<Tensor> IterativeUntargetedAttack(PixelModel& model, const Tensor& pixels,
                                                 absl::Span<const int64_t> labels,
                                                 const IterativeAttackOptions& options);

struct AttackSweepOptions {
  std::vector<float> epsilons = {0.0f, 0.01f, 0.02f, 0.05f, 0.1f, 0.2f};  // each >= 0
  // The iterative attack at radius eps takes `steps` steps of alpha = alpha_fraction * eps: with
  // 10 steps of eps / 4 it can cross the ball in 4 steps and then search along its boundary.
  int64_t steps = 10;            // >= 1
  float alpha_fraction = 0.25f;  // > 0
  int64_t batch_size = 256;      // images per forward/backward, >= 1
};

struct AttackSweepRow {
  float epsilon = 0.0f;
  double fgsm_accuracy = 0.0;       // accuracy on the FGSM images (true-label loss)
  double iterative_accuracy = 0.0;  // accuracy on the untargeted iterative images
};

// Measures accuracy against the true labels of data[indices] under FGSM and under the
// untargeted iterative attack at every epsilon (the row for eps = 0 is the clean accuracy for
// both). InvalidArgument naming "--epsilons", "--sweep_steps", "--alpha_fraction" or
// "--batch_size" for a bad option, "--samples" for an empty index list, and GatherPixels errors.
absl::StatusOr<std::vector<AttackSweepRow>> AccuracyUnderAttack(PixelModel& model,
                                                                const SampleSource& data,
                                                                absl::Span<const int64_t> indices,
                                                                const AttackSweepOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_ADVERSARIAL_H_
