// Losses: input validation, then the row-wise work in the tensor/reduce.h and
// tensor/elementwise.h kernels (log-softmax, exp, sums); batch totals accumulate in double.
#include "layers/loss.h"

#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/reduce.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {


// Validates (N, K) logits against labels for the loss named `what`; a label equal to
// `ignore_index` may lie outside [0, K).
absl::Status CheckLogitsAndLabels(const Tensor& logits, absl::Span<const int64_t> labels,
                                  const char* what,
                                  std::optional<int64_t> ignore_index = std::nullopt) {
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
    if (ignore_index && labels[i] == *ignore_index) continue;
    if (labels[i] < 0 || labels[i] >= k) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": labels[", i, "] = ", labels[i],
                                                     " is outside [0, ", k, ") for logits ",
                                                     logits.shape().ToString()));
    }
  }
  return absl::OkStatus();
}

// Validates the class weights and ignore_index against K classes and returns the weight of
// class j as w(j) (1 when there are none).
absl::Status CheckClassTargetOptions(const ClassTargetOptions& o, int64_t k, const char* what) {
  if (!o.class_weights.empty()) {
    if (static_cast<int64_t>(o.class_weights.size()) != k) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": class_weights has ",
                                                     o.class_weights.size(),
                                                     " entries, expected K = ", k));
    }
    for (size_t j = 0; j < o.class_weights.size(); ++j) {
      if (!std::isfinite(o.class_weights[j]) || o.class_weights[j] < 0.0f) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": class_weights[", j, "] = ",
                                                       o.class_weights[j],
                                                       " must be finite and >= 0"));
      }
    }
  }
  return absl::OkStatus();
}

// The per-sample weights and the reduction's divisor shared by the classification losses.
struct SampleWeights {
  std::vector<double> w;  // w[y_i], 0 for ignored samples
  double divisor = 1.0;   // D: the gradient of the reduced value is (d sum_i l_i) / D
};

SampleWeights WeighSamples(const ClassTargetOptions& o, absl::Span<const int64_t> labels) {
  SampleWeights s;
  s.w.resize(labels.size());
  double total = 0.0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool ignored = o.ignore_index && labels[i] == *o.ignore_index;
    s.w[i] = ignored ? 0.0
                     : (o.class_weights.empty() ? 1.0
                                                : static_cast<double>(
                                                      o.class_weights[labels[i]]));
    if (!ignored) total += s.w[i];
  }
  if (o.reduction == LossReduction::kMean) s.divisor = total;
  return s;
}

// Reduces the per-sample losses (and publishes them when asked). A zero divisor (every target
// ignored, or all their weights 0) gives NaN, as 0/0 does in PyTorch.
float Reduce(const ClassTargetOptions& o, const std::vector<double>& losses,
             const SampleWeights& sw) {
  double total = 0.0;
  for (double l : losses) total += l;
  if (o.per_sample_losses != nullptr) {
    o.per_sample_losses->assign(losses.begin(), losses.end());
  }
  if (o.reduction != LossReduction::kMean) return static_cast<float>(total);
  if (sw.divisor == 0.0) return std::numeric_limits<float>::quiet_NaN();
  return static_cast<float>(total / sw.divisor);
}

}  // namespace

absl::StatusOr<float> SoftmaxCrossEntropy(const Tensor& logits,
                                          absl::Span<const int64_t> labels, Tensor* dlogits,
                                          const SoftmaxCrossEntropyOptions& options) {
  SIMDNET_RETURN_IF_ERROR(
      CheckLogitsAndLabels(logits, labels, "SoftmaxCrossEntropy", options.ignore_index));
  SIMDNET_RETURN_IF_ERROR(CheckClassTargetOptions(options, logits.dim(1), "SoftmaxCrossEntropy"));
  const float eps = options.label_smoothing;
  if (!(eps >= 0.0f && eps <= 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SoftmaxCrossEntropy: label_smoothing must be in [0, 1], got ", eps));
  }
  const size_t n = static_cast<size_t>(logits.dim(0));
  const size_t k = static_cast<size_t>(logits.dim(1));
  const std::vector<float>& cw = options.class_weights;
  const SampleWeights sw = WeighSamples(options, labels);
  // log p in the gradient buffer when there is one (it becomes the gradient in place).
  Tensor scratch;
  Tensor* logp = dlogits != nullptr ? dlogits : &scratch;
  logp->EnsureShape(logits.shape());
  LogSoftmaxAxis(logits.data(), n, k, 1, logp->data());
  const double on = 1.0 - eps;
  const double off = static_cast<double>(eps) / static_cast<double>(k);
  double weight_sum = 0.0;  // S = sum_j w_j
  for (size_t j = 0; j < k; ++j) weight_sum += cw.empty() ? 1.0 : cw[j];
  std::vector<double> losses(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    if (options.ignore_index && labels[i] == *options.ignore_index) continue;
    const float* row = logp->data() + i * k;
    double row_loss = -on * sw.w[i] * row[labels[i]];
    if (eps > 0.0f) {
      double smooth = 0.0;
      if (cw.empty()) {
        smooth = Sum(row, k);
      } else {
        for (size_t j = 0; j < k; ++j) smooth += static_cast<double>(cw[j]) * row[j];
      }
      row_loss -= off * smooth;
    }
    losses[i] = row_loss;
  }
  const float value = Reduce(options, losses, sw);
  if (dlogits != nullptr) {
    // d l_i / dz = a (p - onehot(y)) + b (S p - w) with a = (1 - eps) w[y_i], b = eps / K,
    // p = exp(log p); all divided by D. Ignored rows (and D == 0) get 0.
    Exp(logp->data(), logp->data(), n * k);
    const double inv_d = sw.divisor == 0.0 ? 0.0 : 1.0 / sw.divisor;
    for (size_t i = 0; i < n; ++i) {
      float* row = logp->data() + i * k;
      const bool ignored = options.ignore_index && labels[i] == *options.ignore_index;
      if (ignored || inv_d == 0.0) {
        Fill(row, k, 0.0f);
        continue;
      }
      const double a = on * sw.w[i] * inv_d;
      const double b = off * inv_d;
      Scale(static_cast<float>(a + b * weight_sum), row, k);
      if (eps > 0.0f) {
        if (cw.empty()) {
          AddScalar(row, static_cast<float>(-b), row, k);
        } else {
          for (size_t j = 0; j < k; ++j) row[j] -= static_cast<float>(b * cw[j]);
        }
      }
      row[labels[i]] -= static_cast<float>(a);
    }
  }
  return value;
}

absl::StatusOr<float> NllLoss(const Tensor& log_probs, absl::Span<const int64_t> labels,
                              Tensor* dlog_probs, const NllLossOptions& options) {
  SIMDNET_RETURN_IF_ERROR(
      CheckLogitsAndLabels(log_probs, labels, "NllLoss", options.ignore_index));
  SIMDNET_RETURN_IF_ERROR(CheckClassTargetOptions(options, log_probs.dim(1), "NllLoss"));
  const size_t n = static_cast<size_t>(log_probs.dim(0));
  const size_t k = static_cast<size_t>(log_probs.dim(1));
  const SampleWeights sw = WeighSamples(options, labels);
  std::vector<double> losses(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    if (sw.w[i] != 0.0) losses[i] = -sw.w[i] * log_probs.data()[i * k + labels[i]];
  }
  const float value = Reduce(options, losses, sw);
  if (dlog_probs != nullptr) {
    dlog_probs->EnsureShape(log_probs.shape());
    Fill(dlog_probs->data(), n * k, 0.0f);
    if (sw.divisor != 0.0) {
      for (size_t i = 0; i < n; ++i) {
        if (sw.w[i] != 0.0) {
          dlog_probs->data()[i * k + labels[i]] = static_cast<float>(-sw.w[i] / sw.divisor);
        }
      }
    }
  }
  return value;
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
