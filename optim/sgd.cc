// SGD with the momentum forms of optim/sgd.h, mapped onto the fused
// MomentumUpdate kernel.
#include "optim/sgd.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "optim/spec_parser.h"
#include "optim/update.h"

namespace simdnet {

const char* MomentumFormName(MomentumForm form) {
  switch (form) {
    case MomentumForm::kClassic:
      return "classic";
    case MomentumForm::kPyTorch:
      return "pytorch";
    case MomentumForm::kAveraged:
      return "averaged";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<Sgd>> Sgd::Create(const SgdOptions& o) {
  if (!std::isfinite(o.lr) || o.lr < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sgd: lr must be finite and >= 0, got ", o.lr));
  }
  if (!std::isfinite(o.momentum) || o.momentum < 0 || o.momentum >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sgd: momentum must be in [0, 1), got ", o.momentum));
  }
  if (!std::isfinite(o.weight_decay) || o.weight_decay < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sgd: weight_decay must be finite and >= 0, got ", o.weight_decay));
  }
  if (o.nesterov && o.momentum == 0) {
    return absl::InvalidArgumentError("sgd: nesterov=1 requires momentum > 0");
  }
  if (o.nesterov && o.form == MomentumForm::kAveraged) {
    return absl::InvalidArgumentError(
        "sgd: nesterov=1 is not defined for form=averaged (use form=classic or "
        "form=pytorch)");
  }
  return std::unique_ptr<Sgd>(new Sgd(o));
}

std::string Sgd::ToSpec() const {
  return absl::StrCat(
      "sgd:lr=", optim_internal::FormatSpecDouble(options_.lr),
      ",momentum=", optim_internal::FormatSpecDouble(options_.momentum),
      ",form=", MomentumFormName(options_.form),
      ",nesterov=", options_.nesterov ? 1 : 0,
      ",weight_decay=", optim_internal::FormatSpecDouble(options_.weight_decay),
      ",decoupled=", options_.decoupled_weight_decay ? 1 : 0);
}

std::vector<std::string> Sgd::SlotNames() const {
  if (options_.momentum == 0) return {};
  return {"momentum"};
}

void Sgd::UpdateRange(const Resolved& r, int64_t /*step*/, const float* grad,
                      float* value, const std::vector<float*>& slots,
                      size_t begin, size_t end) const {
  const double lr = r.lr;
  const double l2 = options_.decoupled_weight_decay ? 0.0 : r.weight_decay;
  const double decay =
      options_.decoupled_weight_decay ? 1.0 - lr * r.weight_decay : 1.0;
  const size_t n = end - begin;
  if (options_.momentum == 0) {
    SgdUpdate(static_cast<float>(l2), static_cast<float>(decay),
              static_cast<float>(-lr), grad + begin, value + begin, n);
    return;
  }
  const double mu = options_.momentum;
  double a = mu, c = 0, s = 0, t = 0;
  switch (options_.form) {
    case MomentumForm::kClassic:
      c = -lr;
      s = options_.nesterov ? mu : 1.0;
      t = options_.nesterov ? -lr : 0.0;
      break;
    case MomentumForm::kPyTorch:
      c = 1.0;
      s = options_.nesterov ? -lr * mu : -lr;
      t = options_.nesterov ? -lr : 0.0;
      break;
    case MomentumForm::kAveraged:
      c = 1.0 - mu;
      s = -lr;
      break;
  }
  MomentumCoefficients k;
  k.l2 = static_cast<float>(l2);
  k.a = static_cast<float>(a);
  k.c = static_cast<float>(c);
  k.decay = static_cast<float>(decay);
  k.s = static_cast<float>(s);
  k.t = static_cast<float>(t);
  MomentumUpdate(k, grad + begin, value + begin, slots[0] + begin, n);
}

}  // namespace simdnet
