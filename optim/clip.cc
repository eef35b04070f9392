// Gradient clipping over named parameters (optim/clip.h), on the Highway
// reductions of optim/update.h.
#include "optim/clip.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "absl/strings/str_cat.h"
#include "optim/update.h"

namespace simdnet {
namespace {

// Elements summed in float lanes before the partial sum is added in double:
// keeps the float rounding error of the norm at ~chunk * 2^-24 relative
// whatever the model size.
constexpr size_t kNormChunk = 4096;

double SquaredNorm(const Tensor& t) {
  const size_t n = static_cast<size_t>(t.size());
  double sum = 0.0;
  for (size_t begin = 0; begin < n; begin += kNormChunk) {
    sum += SumOfSquares(t.data() + begin, std::min(kNormChunk, n - begin));
  }
  return sum;
}

}  // namespace

double GradNorm(absl::Span<const NamedParameter> params) {
  double sum = 0.0;
  for (const NamedParameter& np : params) {
    if (!np.param->frozen) sum += SquaredNorm(np.param->grad);
  }
  return std::sqrt(sum);
}

absl::StatusOr<double> ClipGradNorm(absl::Span<const NamedParameter> params,
                                    double max_norm) {
  if (!std::isfinite(max_norm) || max_norm <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ClipGradNorm: max_norm must be finite and > 0, got ", max_norm));
  }
  double sum = 0.0;
  for (const NamedParameter& np : params) {
    const Parameter& p = *np.param;
    if (p.frozen) continue;
    if (p.grad.shape() != p.value.shape()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ClipGradNorm: parameter '", np.name, "': grad shape ",
                       p.grad.shape().ToString(), " differs from value shape ",
                       p.value.shape().ToString()));
    }
    const double sq = SquaredNorm(p.grad);
    if (!std::isfinite(sq)) {
      return absl::FailedPreconditionError(
          absl::StrCat("ClipGradNorm: the gradient of parameter '", np.name,
                       "' is not finite (squared norm ", sq,
                       "); gradients were not clipped"));
    }
    sum += sq;
  }
  const double norm = std::sqrt(sum);
  if (norm > max_norm) {
    const float scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (const NamedParameter& np : params) {
      if (np.param->frozen) continue;
      ScaleInPlace(scale, np.param->grad.data(),
                   static_cast<size_t>(np.param->grad.size()));
    }
  }
  return norm;
}

absl::Status ClipGradValue(absl::Span<const NamedParameter> params,
                           double clip_value) {
  if (!std::isfinite(clip_value) || clip_value <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ClipGradValue: clip_value must be finite and > 0, got ", clip_value));
  }
  const float c = static_cast<float>(clip_value);
  for (const NamedParameter& np : params) {
    if (np.param->frozen) continue;
    ClampInPlace(-c, c, np.param->grad.data(),
                 static_cast<size_t>(np.param->grad.size()));
  }
  return absl::OkStatus();
}

}  // namespace simdnet
