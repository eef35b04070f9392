// Classification metrics for training and evaluation: running (sample-weighted) loss and
// accuracy, top-k correctness from logits, and a confusion matrix with per-class accuracy.
//
// Ties between logits are broken toward the lower class index (like argmax); NaN logits rank
// below every number, so a NaN never counts as the prediction.
#ifndef SIMDNET_TRAIN_METRICS_H_
#define SIMDNET_TRAIN_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tensor/tensor.h"

namespace simdnet {

// Sample-weighted running mean of the loss and running accuracy over an epoch.
class RunningMetrics {
 public:
  // Adds one batch: `mean_loss` is the batch's mean per-sample loss, `batch_size` the number
  // of samples, `correct` how many were classified correctly.
  // Requires: batch_size >= 0, 0 <= correct <= batch_size.
  void AddBatch(double mean_loss, int64_t batch_size, int64_t correct);
  // Clears all counts (start of an epoch).
  void Reset() { *this = RunningMetrics(); }

  // Returns the number of samples added since the last Reset.
  int64_t samples() const { return samples_; }
  // Returns the number of correctly classified samples added since the last Reset.
  int64_t correct() const { return correct_; }
  // Returns the sample-weighted mean loss (0 when no samples were added).
  double mean_loss() const {
    return samples_ == 0 ? 0.0 : loss_sum_ / static_cast<double>(samples_);
  }
  // Returns correct / samples in [0, 1] (0 when no samples were added).
  double accuracy() const {
    return samples_ == 0 ? 0.0 : static_cast<double>(correct_) / static_cast<double>(samples_);
  }

 private:
  double loss_sum_ = 0.0;
  int64_t samples_ = 0;
  int64_t correct_ = 0;
};

// Returns the predicted class of each row of `logits` (N, C): the index of the largest value,
// the lowest such index on ties, ignoring NaNs (0 if a row is all NaN).
// Returns InvalidArgument if logits is not rank 2 or C == 0.
absl::StatusOr<std::vector<int64_t>> ArgmaxRows(const Tensor& logits);

// Returns, for each row of `logits` (N, C), whether labels[i] is among the k highest classes
// (rank of the label < k, where rank counts classes with a strictly larger logit plus tied
// classes of lower index; a NaN label logit is never in the top k).
// Returns InvalidArgument naming the row for: logits not rank 2, labels.size() != N,
// a label outside [0, C), or k outside [1, C].
absl::StatusOr<std::vector<bool>> TopKCorrect(const Tensor& logits,
                                              absl::Span<const int64_t> labels, int64_t k);

// Returns how many rows of `logits` have their label in the top k (see TopKCorrect).
absl::StatusOr<int64_t> CountTopKCorrect(const Tensor& logits, absl::Span<const int64_t> labels,
                                         int64_t k);

// Returns the top-k accuracy in [0, 1] over the batch (0 for an empty batch).
absl::StatusOr<double> TopKAccuracy(const Tensor& logits, absl::Span<const int64_t> labels,
                                    int64_t k);

// Counts of (true class, predicted class) pairs. Row = true class, column = prediction.
class ConfusionMatrix {
 public:
  // Largest number of classes accepted (the matrix is dense, num_classes^2 counts).
  static constexpr int64_t kMaxClasses = 4096;

  // Returns an all-zero matrix; InvalidArgument unless 1 <= num_classes <= kMaxClasses.
  static absl::StatusOr<ConfusionMatrix> Create(int64_t num_classes);

  // Adds one (label, prediction) pair per sample.
  // Returns InvalidArgument naming the index for size mismatch or values outside [0, C);
  // on error the matrix is unchanged.
  absl::Status Add(absl::Span<const int64_t> labels, absl::Span<const int64_t> predictions);
  // Adds argmax predictions of `logits` (N, C) against `labels` (N); C must equal
  // num_classes(). Same errors as Add and ArgmaxRows.
  absl::Status AddLogits(const Tensor& logits, absl::Span<const int64_t> labels);
  // Adds all counts of `other`; InvalidArgument if the class counts differ.
  absl::Status Merge(const ConfusionMatrix& other);
  // Sets every count to 0.
  void Reset();

  // Returns the number of classes C (the matrix is C x C).
  int64_t num_classes() const { return n_; }
  // Returns the count of samples of class `truth` predicted as `predicted`.
  // Requires: both in [0, num_classes()).
  int64_t count(int64_t truth, int64_t predicted) const;
  // Returns the row-major counts, num_classes() x num_classes().
  const std::vector<int64_t>& counts() const { return counts_; }
  // Returns the number of samples added.
  int64_t total() const;
  // Returns the number of samples of class `truth` (row sum). Requires: truth in range.
  int64_t support(int64_t truth) const;
  // Returns trace / total (0 when empty).
  double accuracy() const;
  // Returns, per class, correct / support (the recall); NaN for classes with no samples.
  std::vector<double> PerClassAccuracy() const;
  // Returns, per class, correct / column sum (the precision); NaN for never-predicted classes.
  std::vector<double> PerClassPrecision() const;
  // Returns a fixed-width text table with optional class names (empty = indices), for logs.
  std::string ToString(absl::Span<const std::string> class_names = {}) const;

 private:
  explicit ConfusionMatrix(int64_t n) : n_(n), counts_(static_cast<size_t>(n * n), 0) {}
  int64_t n_;
  std::vector<int64_t> counts_;
};

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_METRICS_H_
