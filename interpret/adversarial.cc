// FGSM, the iterative targeted / untargeted attacks and the accuracy-versus-epsilon sweep.
#include "interpret/adversarial.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "layers/loss.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::Status CheckEpsilon(float epsilon) {
  if (!(epsilon >= 0.0f) || !std::isfinite(epsilon)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--epsilon=", epsilon, ": must be a finite value >= 0"));
  }
  return absl::OkStatus();
}

absl::Status CheckLabels(absl::Span<const int64_t> labels, int64_t n, int64_t k,
                         absl::string_view flag) {
  if (static_cast<int64_t>(labels.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", labels.size(), " classes given for ", n, " images"));
  }
  for (const int64_t c : labels) {
    if (c < 0 || c >= k) {
      return absl::InvalidArgumentError(absl::StrCat(flag, "=", c, ": must be in [0, ", k, ")"));
    }
  }
  return absl::OkStatus();
}

float Sign(float g) { return g > 0.0f ? 1.0f : (g < 0.0f ? -1.0f : 0.0f); }

// One projected sign step on image rows where active[i] (all rows if active is empty):
// x <- clip(clip(x + step * sign(g), original - eps, original + eps), 0, 1).
void SignStep(const Tensor& original, const Tensor& gradient, float step, float epsilon,
              const std::vector<bool>& active, Tensor* x) {
  const int64_t n = x->dim(0);
  const int64_t per = x->size() / n;
  for (int64_t s = 0; s < n; ++s) {
    if (!active.empty() && !active[static_cast<size_t>(s)]) continue;
    float* xs = x->data() + s * per;
    const float* o = original.data() + s * per;
    const float* g = gradient.data() + s * per;
    for (int64_t k = 0; k < per; ++k) {
      const float moved = xs[k] + step * Sign(g[k]);
      xs[k] = std::clamp(std::clamp(moved, o[k] - epsilon, o[k] + epsilon), 0.0f, 1.0f);
    }
  }
}

// d cross-entropy(labels) / d pixels for the current x (a Forward then an input backward).
absl::Status LossGradient(PixelModel& model, const Tensor& x, absl::Span<const int64_t> labels,
                          Tensor* logits, Tensor* gradient) {
  SIMDNET_RETURN_IF_ERROR(model.Forward(x, logits));
  Tensor dlogits;
  SIMDNET_RETURN_IF_ERROR(SoftmaxCrossEntropy(*logits, labels, &dlogits).status());
  return model.InputGradient(dlogits, gradient);
}

int64_t CountCorrect(const Tensor& logits, absl::Span<const int64_t> labels) {
  const std::vector<int64_t> predicted = ArgMaxRows(logits);
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == labels[i];
  return correct;
}

}  // namespace

absl::Status ValidateIterativeAttackOptions(const IterativeAttackOptions& options) {
  SIMDNET_RETURN_IF_ERROR(CheckEpsilon(options.epsilon));
  if (!(options.alpha > 0.0f) || !std::isfinite(options.alpha)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--alpha=", options.alpha, ": must be a finite value > 0"));
  }
  if (options.max_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_steps=", options.max_steps, ": must be >= 1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> Fgsm(PixelModel& model, const Tensor& pixels,
                            absl::Span<const int64_t> labels, float epsilon) {
  SIMDNET_RETURN_IF_ERROR(CheckEpsilon(epsilon));
  SIMDNET_RETURN_IF_ERROR(model.model().CheckInput(pixels));
  SIMDNET_RETURN_IF_ERROR(CheckLabels(labels, pixels.dim(0), model.num_classes(), "--label"));
  Tensor x = pixels.Clone();
  if (epsilon == 0.0f) return x;
  Tensor logits, gradient;
  SIMDNET_RETURN_IF_ERROR(LossGradient(model, pixels, labels, &logits, &gradient));
  // The L_inf ball around x has radius epsilon, so the single step lands inside it: only the
  // [0, 1] clip is active.
  SignStep(pixels, gradient, epsilon, epsilon, {}, &x);
  return x;
}

absl::StatusOr<std::vector<TargetedAttackResult>> TargetedAttack(
    PixelModel& model, const Tensor& pixels, absl::Span<const int64_t> targets,
    const IterativeAttackOptions& options, Tensor* adversarial) {
  SIMDNET_RETURN_IF_ERROR(ValidateIterativeAttackOptions(options));
  SIMDNET_RETURN_IF_ERROR(model.model().CheckInput(pixels));
  const int64_t n = pixels.dim(0), k = model.num_classes();
  SIMDNET_RETURN_IF_ERROR(CheckLabels(targets, n, k, "--target"));
  const int64_t per = pixels.size() / n;

  Tensor x = pixels.Clone();
  Tensor logits, gradient;
  SIMDNET_RETURN_IF_ERROR(model.Forward(x, &logits));
  std::vector<TargetedAttackResult> results(static_cast<size_t>(n));
  {
    const Tensor p = SoftmaxRows(logits);
    const std::vector<int64_t> predicted = ArgMaxRows(logits);
    for (int64_t s = 0; s < n; ++s) {
      TargetedAttackResult& r = results[static_cast<size_t>(s)];
      r.target = targets[static_cast<size_t>(s)];
      r.class_before = predicted[static_cast<size_t>(s)];
      r.p_original_before = p[s * k + r.class_before];
      r.p_target_before = p[s * k + r.target];
    }
  }
  std::vector<bool> active(static_cast<size_t>(n));
  int64_t remaining = 0;
  for (int64_t s = 0; s < n; ++s) {
    active[static_cast<size_t>(s)] = results[static_cast<size_t>(s)].class_before !=
                                     results[static_cast<size_t>(s)].target;
    remaining += active[static_cast<size_t>(s)];
  }
  Tensor dlogits(Shape({n, k}));
  for (int64_t step = 1; step <= options.max_steps && remaining > 0; ++step) {
    // d log softmax(z)_t / d z = onehot(t) - softmax(z); rows that are done get no gradient.
    const Tensor p = SoftmaxRows(logits);
    for (int64_t s = 0; s < n; ++s) {
      for (int64_t j = 0; j < k; ++j) {
        dlogits[s * k + j] = active[static_cast<size_t>(s)]
                                 ? (j == targets[static_cast<size_t>(s)] ? 1.0f : 0.0f) -
                                       p[s * k + j]
                                 : 0.0f;
      }
    }
    SIMDNET_RETURN_IF_ERROR(model.InputGradient(dlogits, &gradient));
    SignStep(pixels, gradient, options.alpha, options.epsilon, active, &x);
    SIMDNET_RETURN_IF_ERROR(model.Forward(x, &logits));
    const std::vector<int64_t> predicted = ArgMaxRows(logits);
    for (int64_t s = 0; s < n; ++s) {
      if (!active[static_cast<size_t>(s)]) continue;
      results[static_cast<size_t>(s)].steps = step;
      if (predicted[static_cast<size_t>(s)] == targets[static_cast<size_t>(s)]) {
        active[static_cast<size_t>(s)] = false;
        --remaining;
      }
    }
  }
  const Tensor p = SoftmaxRows(logits);
  const std::vector<int64_t> predicted = ArgMaxRows(logits);
  for (int64_t s = 0; s < n; ++s) {
    TargetedAttackResult& r = results[static_cast<size_t>(s)];
    r.class_after = predicted[static_cast<size_t>(s)];
    r.success = r.class_after == r.target;
    r.p_original_after = p[s * k + r.class_before];
    r.p_target_after = p[s * k + r.target];
    double l2 = 0.0;
    float linf = 0.0f;
    for (int64_t j = 0; j < per; ++j) {
      const float d = x[s * per + j] - pixels[s * per + j];
      linf = std::max(linf, std::fabs(d));
      l2 += static_cast<double>(d) * d;
    }
    r.linf = linf;
    r.l2 = static_cast<float>(std::sqrt(l2));
  }
  if (adversarial != nullptr) *adversarial = std::move(x);
  return results;
}

absl::StatusOr<Tensor> IterativeUntargetedAttack(PixelModel& model, const Tensor& pixels,
                                                 absl::Span<const int64_t> labels,
                                                 const IterativeAttackOptions& options) {
  SIMDNET_RETURN_IF_ERROR(ValidateIterativeAttackOptions(options));
  SIMDNET_RETURN_IF_ERROR(model.model().CheckInput(pixels));
  SIMDNET_RETURN_IF_ERROR(CheckLabels(labels, pixels.dim(0), model.num_classes(), "--label"));
  Tensor x = pixels.Clone();
  if (options.epsilon == 0.0f) return x;
  Tensor logits, gradient;
  for (int64_t step = 0; step < options.max_steps; ++step) {
    SIMDNET_RETURN_IF_ERROR(LossGradient(model, x, labels, &logits, &gradient));
    SignStep(pixels, gradient, options.alpha, options.epsilon, {}, &x);
  }
  return x;
}

absl::StatusOr<std::vector<AttackSweepRow>> AccuracyUnderAttack(
    PixelModel& model, const SampleSource& data, absl::Span<const int64_t> indices,
    const AttackSweepOptions& options) {
  if (options.epsilons.empty()) return absl::InvalidArgumentError("--epsilons: none given");
  for (const float e : options.epsilons) {
    if (!(e >= 0.0f) || !std::isfinite(e)) {
      return absl::InvalidArgumentError(absl::StrCat("--epsilons: ", e, " must be >= 0"));
    }
  }
  if (options.steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sweep_steps=", options.steps, ": must be >= 1"));
  }
  if (!(options.alpha_fraction > 0.0f) || !std::isfinite(options.alpha_fraction)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--alpha_fraction=", options.alpha_fraction, ": must be > 0"));
  }
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch_size=", options.batch_size, ": must be >= 1"));
  }
  if (indices.empty()) return absl::InvalidArgumentError("--samples: no images selected");
  const size_t e = options.epsilons.size();
  std::vector<int64_t> fgsm_correct(e, 0), iter_correct(e, 0);
  Tensor logits;
  for (size_t begin = 0; begin < indices.size(); begin += static_cast<size_t>(options.batch_size)) {
    const size_t end = std::min(indices.size(), begin + static_cast<size_t>(options.batch_size));
    std::vector<int32_t> labels32;
    SIMDNET_ASSIGN_OR_RETURN(Tensor pixels,
                             GatherPixels(data, indices.subspan(begin, end - begin), &labels32));
    const std::vector<int64_t> labels(labels32.begin(), labels32.end());
    for (size_t i = 0; i < e; ++i) {
      const float eps = options.epsilons[i];
      SIMDNET_ASSIGN_OR_RETURN(Tensor fgsm, Fgsm(model, pixels, labels, eps));
      SIMDNET_RETURN_IF_ERROR(model.Forward(fgsm, &logits));
      fgsm_correct[i] += CountCorrect(logits, labels);
      if (eps == 0.0f) {
        iter_correct[i] += CountCorrect(logits, labels);
        continue;
      }
      IterativeAttackOptions it;
      it.epsilon = eps;
      it.alpha = options.alpha_fraction * eps;
      it.max_steps = options.steps;
      SIMDNET_ASSIGN_OR_RETURN(Tensor iterative,
                               IterativeUntargetedAttack(model, pixels, labels, it));
      SIMDNET_RETURN_IF_ERROR(model.Forward(iterative, &logits));
      iter_correct[i] += CountCorrect(logits, labels);
    }
  }
  std::vector<AttackSweepRow> rows(e);
  const double total = static_cast<double>(indices.size());
  for (size_t i = 0; i < e; ++i) {
    rows[i].epsilon = options.epsilons[i];
    rows[i].fgsm_accuracy = static_cast<double>(fgsm_correct[i]) / total;
    rows[i].iterative_accuracy = static_cast<double>(iter_correct[i]) / total;
  }
  return rows;
}

}  // namespace simdnet
