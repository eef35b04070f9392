// Adam / AdamW mapped onto the fused AdamUpdate kernel (optim/adam.h).
#include "optim/adam.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "optim/spec_parser.h"
#include "optim/update.h"

namespace simdnet {

absl::StatusOr<std::unique_ptr<Adam>> Adam::Create(const AdamOptions& o) {
  const char* name = o.decoupled_weight_decay ? "adamw" : "adam";
  if (!std::isfinite(o.lr) || o.lr < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": lr must be finite and >= 0, got ", o.lr));
  }
  if (!std::isfinite(o.beta1) || o.beta1 < 0 || o.beta1 >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": beta1 must be in [0, 1), got ", o.beta1));
  }
  if (!std::isfinite(o.beta2) || o.beta2 < 0 || o.beta2 >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": beta2 must be in [0, 1), got ", o.beta2));
  }
  if (!std::isfinite(o.eps) || o.eps <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": eps must be > 0, got ", o.eps));
  }
  if (!std::isfinite(o.weight_decay) || o.weight_decay < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": weight_decay must be finite and >= 0, got ", o.weight_decay));
  }
  return std::unique_ptr<Adam>(new Adam(o));
}

std::string Adam::TypeName() const {
  return options_.decoupled_weight_decay ? "adamw" : "adam";
}

std::string Adam::ToSpec() const {
  return absl::StrCat(
      TypeName(), ":lr=", optim_internal::FormatSpecDouble(options_.lr),
      ",betas=", optim_internal::FormatSpecDouble(options_.beta1), "/",
      optim_internal::FormatSpecDouble(options_.beta2),
      ",eps=", optim_internal::FormatSpecDouble(options_.eps), ",weight_decay=",
      optim_internal::FormatSpecDouble(options_.weight_decay));
}

void Adam::UpdateRange(const Resolved& r, int64_t step, const float* grad,
                       float* value, const std::vector<float*>& slots,
                       size_t begin, size_t end) const {
  // The moments are averaged in float with the float-rounded betas (and 1 -
  // beta computed exactly from them in the kernel), so the bias corrections use
  // those same rounded betas: then a constant gradient gives m_hat = g and
  // v_hat = g^2 to float precision.
  const double t = static_cast<double>(step);
  const double beta1 = static_cast<float>(options_.beta1);
  const double beta2 = static_cast<float>(options_.beta2);
  const double bc1 = 1.0 - std::pow(beta1, t);
  const double bc2 = 1.0 - std::pow(beta2, t);
  AdamCoefficients k;
  k.l2 = static_cast<float>(options_.decoupled_weight_decay ? 0.0
                                                            : r.weight_decay);
  k.decay = static_cast<float>(
      options_.decoupled_weight_decay ? 1.0 - r.lr * r.weight_decay : 1.0);
  k.beta1 = static_cast<float>(options_.beta1);
  k.beta2 = static_cast<float>(options_.beta2);
  k.eps = static_cast<float>(options_.eps);
  k.step_size = static_cast<float>(r.lr / bc1);
  k.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  AdamUpdate(k, grad + begin, value + begin, slots[0] + begin, slots[1] + begin,
             end - begin);
}

}  // namespace simdnet
