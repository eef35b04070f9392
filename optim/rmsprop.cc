// RMSProp mapped onto the fused RmspropUpdate kernel (optim/rmsprop.h).
#include "optim/rmsprop.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "optim/spec_parser.h"
#include "optim/update.h"

namespace simdnet {

absl::StatusOr<std::unique_ptr<Rmsprop>> Rmsprop::Create(
    const RmspropOptions& o) {
  if (!std::isfinite(o.lr) || o.lr < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rmsprop: lr must be finite and >= 0, got ", o.lr));
  }
  if (!std::isfinite(o.alpha) || o.alpha < 0 || o.alpha >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rmsprop: alpha must be in [0, 1), got ", o.alpha));
  }
  if (!std::isfinite(o.momentum) || o.momentum < 0 || o.momentum >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rmsprop: momentum must be in [0, 1), got ", o.momentum));
  }
  if (!std::isfinite(o.eps) || o.eps <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rmsprop: eps must be > 0, got ", o.eps));
  }
  if (!std::isfinite(o.weight_decay) || o.weight_decay < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rmsprop: weight_decay must be finite and >= 0, got ", o.weight_decay));
  }
  return std::unique_ptr<Rmsprop>(new Rmsprop(o));
}

std::string Rmsprop::ToSpec() const {
  return absl::StrCat(
      "rmsprop:lr=", optim_internal::FormatSpecDouble(options_.lr),
      ",alpha=", optim_internal::FormatSpecDouble(options_.alpha),
      ",eps=", optim_internal::FormatSpecDouble(options_.eps),
      ",momentum=", optim_internal::FormatSpecDouble(options_.momentum),
      ",weight_decay=", optim_internal::FormatSpecDouble(options_.weight_decay),
      ",decoupled=", options_.decoupled_weight_decay ? 1 : 0);
}

std::vector<std::string> Rmsprop::SlotNames() const {
  if (options_.momentum == 0) return {"square_avg"};
  return {"square_avg", "momentum_buffer"};
}

void Rmsprop::UpdateRange(const Resolved& r, int64_t /*step*/,
                          const float* grad, float* value,
                          const std::vector<float*>& slots, size_t begin,
                          size_t end) const {
  RmspropCoefficients k;
  k.l2 = static_cast<float>(options_.decoupled_weight_decay ? 0.0
                                                            : r.weight_decay);
  k.decay = static_cast<float>(
      options_.decoupled_weight_decay ? 1.0 - r.lr * r.weight_decay : 1.0);
  k.alpha = static_cast<float>(options_.alpha);
  k.eps = static_cast<float>(options_.eps);
  k.lr = static_cast<float>(r.lr);
  k.momentum = static_cast<float>(options_.momentum);
  float* buf = slots.size() > 1 ? slots[1] + begin : nullptr;
  RmspropUpdate(k, grad + begin, value + begin, slots[0] + begin, buf,
                end - begin);
}

}  // namespace simdnet
