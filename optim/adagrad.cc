// Adagrad mapped onto the fused AdagradUpdate kernel (optim/adagrad.h).
#include "optim/adagrad.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "optim/spec_parser.h"
#include "optim/update.h"

namespace simdnet {
namespace {

absl::Status CheckNonNegative(const char* name, double v) {
  if (std::isfinite(v) && v >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("adagrad: ", name, " must be finite and >= 0, got ", v));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Adagrad>> Adagrad::Create(
    const AdagradOptions& o) {
  for (const auto& [name, v] :
       {std::pair<const char*, double>{"lr", o.lr},
        {"lr_decay", o.lr_decay},
        {"initial_accumulator_value", o.initial_accumulator_value},
        {"weight_decay", o.weight_decay}}) {
    absl::Status s = CheckNonNegative(name, v);
    if (!s.ok()) return s;
  }
  if (!std::isfinite(o.eps) || o.eps <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("adagrad: eps must be finite and > 0, got ", o.eps));
  }
  return std::unique_ptr<Adagrad>(new Adagrad(o));
}

std::string Adagrad::ToSpec() const {
  using optim_internal::FormatSpecDouble;
  return absl::StrCat(
      "adagrad:lr=", FormatSpecDouble(options_.lr),
      ",lr_decay=", FormatSpecDouble(options_.lr_decay),
      ",initial_accumulator_value=",
      FormatSpecDouble(options_.initial_accumulator_value),
      ",eps=", FormatSpecDouble(options_.eps),
      ",weight_decay=", FormatSpecDouble(options_.weight_decay));
}

void Adagrad::UpdateRange(const Resolved& r, int64_t step, const float* grad,
                          float* value, const std::vector<float*>& slots,
                          size_t begin, size_t end) const {
  AdagradCoefficients k;
  k.l2 = static_cast<float>(r.weight_decay);
  k.eps = static_cast<float>(options_.eps);
  // PyTorch computes clr in Python double and hands it to addcdiv_.
  k.clr = static_cast<float>(
      r.lr / (1.0 + static_cast<double>(step - 1) * options_.lr_decay));
  AdagradUpdate(k, grad + begin, value + begin, slots[0] + begin,
                end - begin);
}

}  // namespace simdnet
