// Losses: input validation, then the row-wise work in the tensor/reduce.h and
// tensor/elementwise.h kernels (log-softmax, exp, sums); batch totals accumulate in double.
#include "layers/loss.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/reduce.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {


// Validates (N, K) logits against labels for the loss named `what`.
absl::Status CheckLogitsAndLabels(const Tensor& logits, absl::Span<const int64_t> labels,
                                  const char* what) {
  if (logits.rank() != 2 || logits.dim(0) < 1 || logits.dim(1) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": logits shape ",
                                                   logits.shape().ToString(),
                                                   " must be (N, K) with N, K >= 1"));
  }
  if (static_cast<int64_t>(labels.size()) != logits.dim(0)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": labels has ", labels.size(),
                                                   " entries, logits shape ",
                                                   logits.shape().ToString(), " has N = ",
                                                   logits.dim(0)));
  }
  const int64_t k = logits.dim(1);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= k) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": labels[", i, "] = ", labels[i],
                                                     " is outside [0, ", k, ") for logits ",
                                                     logits.shape().ToString()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<float> SoftmaxCrossEntropy(const Tensor& logits,
                                          absl::Span<const int64_t> labels, Tensor* dlogits,
                                          const SoftmaxCrossEntropyOptions& options) {
  SIMDNET_RETURN_IF_ERROR(CheckLogitsAndLabels(logits, labels, "SoftmaxCrossEntropy"));
  const float eps = options.label_smoothing;
  if (!(eps >= 0.0f && eps <= 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SoftmaxCrossEntropy: label_smoothing must be in [0, 1], got ", eps));
  }
  const size_t n = static_cast<size_t>(logits.dim(0));
  const size_t k = static_cast<size_t>(logits.dim(1));
  // log p in the gradient buffer when there is one (it becomes softmax - t in place).
  Tensor scratch;
  Tensor* logp = dlogits != nullptr ? dlogits : &scratch;
  logp->EnsureShape(logits.shape());
  LogSoftmaxAxis(logits.data(), n, k, 1, logp->data());
  const double on = 1.0 - eps;
  const double off = static_cast<double>(eps) / static_cast<double>(k);
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const float* row = logp->data() + i * k;
    double row_loss = -on * row[labels[i]];
    if (eps > 0.0f) row_loss -= off * Sum(row, k);
    total += row_loss;
  }
  if (dlogits != nullptr) {
    // d/dz = softmax - t = exp(log p) - t, then / N.
    Exp(logp->data(), logp->data(), n * k);
    const float inv_n = 1.0f / static_cast<float>(n);
    for (size_t i = 0; i < n; ++i) {
      float* row = logp->data() + i * k;
      if (eps > 0.0f) AddScalar(row, static_cast<float>(-off), row, k);
      row[labels[i]] -= static_cast<float>(on);
    }
    Scale(inv_n, logp->data(), n * k);
  }
  return static_cast<float>(total / static_cast<double>(n));
}

absl::StatusOr<float> MulticlassSvm(const Tensor& scores, absl::Span<const int64_t> labels,
                                    Tensor* dscores, const MulticlassSvmOptions& options) {
  SIMDNET_RETURN_IF_ERROR(CheckLogitsAndLabels(scores, labels, "MulticlassSvm"));
  if (!std::isfinite(options.margin) || options.margin < 0.0f) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MulticlassSvm: margin must be finite and >= 0, got ", options.margin));
  }
  const size_t n = static_cast<size_t>(scores.dim(0));
  const size_t k = static_cast<size_t>(scores.dim(1));
  Tensor margins(scores.shape());
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const float* s = scores.data() + i * k;
    float* m = margins.data() + i * k;
    // m_j = max(0, s_j - s_y + margin); the j == y term is max(0, margin) and is excluded.
    AddScalar(s, options.margin - s[labels[i]], m, k);
    m[labels[i]] = 0.0f;
    ReluForward(m, m, k);
    total += Sum(m, k);
  }
  if (dscores != nullptr) {
    dscores->EnsureShape(scores.shape());
    // Indicator of positive terms: ReLU's backward with dy = 1 gives (m > 0).
    Fill(dscores->data(), n * k, 1.0f);
    ReluBackward(margins.data(), dscores->data(), dscores->data(), n * k);
    for (size_t i = 0; i < n; ++i) {
      float* g = dscores->data() + i * k;
      g[labels[i]] = 0.0f;
      g[labels[i]] = -Sum(g, k);
    }
    Scale(1.0f / static_cast<float>(n), dscores->data(), n * k);
  }
  return static_cast<float>(total / static_cast<double>(n));
}

absl::StatusOr<float> MeanSquaredError(const Tensor& prediction, const Tensor& target,
                                       Tensor* dprediction) {
  if (prediction.shape() != target.shape() || prediction.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("MeanSquaredError: prediction shape ", prediction.shape().ToString(),
                     " and target shape ", target.shape().ToString(),
                     " must be equal and non-empty"));
  }
  const size_t count = static_cast<size_t>(prediction.size());
  Tensor scratch;
  Tensor* diff = dprediction != nullptr ? dprediction : &scratch;
  diff->EnsureShape(prediction.shape());
  Sub(prediction.data(), target.data(), diff->data(), count);
  const double loss = static_cast<double>(SquaredL2Norm(diff->data(), count)) /
                      static_cast<double>(count);
  if (dprediction != nullptr) Scale(2.0f / static_cast<float>(count), diff->data(), count);
  return static_cast<float>(loss);
}

}  // namespace simdnet
