// Regularizer: parameter selection, penalty value (tensor/reduce.h) and gradient
// (layers/regularizer_kernels.h).
#include "layers/regularizer.h"

#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "layers/regularizer_kernels.h"
#include "tensor/reduce.h"

namespace simdnet {

absl::StatusOr<Regularizer> Regularizer::Create(const RegularizerOptions& options) {
  if (!(std::isfinite(options.l1) && options.l1 >= 0.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Regularizer: l1 must be finite and >= 0, got ", options.l1));
  }
  if (!(std::isfinite(options.l2) && options.l2 >= 0.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Regularizer: l2 must be finite and >= 0, got ", options.l2));
  }
  return Regularizer(options);
}

absl::StatusOr<Regularizer> Regularizer::Parse(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  const std::vector<std::string> parts = absl::StrSplit(lower, ':');
  const std::string& kind = parts[0];
  size_t expected = 0;
  if (kind == "none") {
    expected = 1;
  } else if (kind == "l1" || kind == "l2") {
    expected = 2;
  } else if (kind == "elastic") {
    expected = 3;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "regularizer '", text, "': unknown kind '", kind,
        "' (expected none, l2:<l2>, l1:<l1> or elastic:<l1>:<l2>)"));
  }
  if (parts.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("regularizer '", text, "': '", kind,
                                                   "' takes ", expected - 1,
                                                   " value(s), got ", parts.size() - 1));
  }
  std::vector<float> values;
  for (size_t i = 1; i < parts.size(); ++i) {
    float v = 0.0f;
    if (!absl::SimpleAtof(parts[i], &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("regularizer '", text, "': '", parts[i], "' is not a number"));
    }
    values.push_back(v);
  }
  RegularizerOptions o;
  if (kind == "l1") o.l1 = values[0];
  if (kind == "l2") o.l2 = values[0];
  if (kind == "elastic") {
    o.l1 = values[0];
    o.l2 = values[1];
  }
  absl::StatusOr<Regularizer> r = Create(o);
  if (!r.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("regularizer '", text, "': ",
                                                   r.status().message()));
  }
  return r;
}

bool Regularizer::Applies(const std::string& name, const Parameter& p) const {
  if (p.frozen) return false;
  bool apply = p.weight_decay;
  for (const auto& [prefix, value] : options_.overrides) {
    if (absl::StartsWith(name, prefix)) apply = value;
  }
  return apply;
}

double Regularizer::Penalty(const std::vector<NamedParameter>& params) const {
  if (IsZero()) return 0.0;
  double total = 0.0;
  for (const NamedParameter& np : params) {
    if (!Applies(np.name, *np.param)) continue;
    const Tensor& w = np.param->value;
    const size_t n = static_cast<size_t>(w.size());
    if (options_.l1 != 0.0f) total += double{options_.l1} * L1Norm(w.data(), n);
    if (options_.l2 != 0.0f) total += 0.5 * double{options_.l2} * SquaredL2Norm(w.data(), n);
  }
  return total;
}

double Regularizer::AddGradients(const std::vector<NamedParameter>& params) const {
  if (IsZero()) return 0.0;
  for (const NamedParameter& np : params) {
    if (!Applies(np.name, *np.param)) continue;
    Parameter& p = *np.param;
    AddRegularizerGradient(p.value.data(), options_.l1, options_.l2, p.grad.data(),
                           static_cast<size_t>(p.value.size()));
  }
  return Penalty(params);
}

std::string Regularizer::Describe() const {
  if (options_.l1 != 0.0f && options_.l2 != 0.0f) {
    return absl::StrCat("elastic(l1=", options_.l1, ", l2=", options_.l2, ")");
  }
  if (options_.l1 != 0.0f) return absl::StrCat("l1(", options_.l1, ")");
  if (options_.l2 != 0.0f) return absl::StrCat("l2(", options_.l2, ")");
  return "none";
}

}  // namespace simdnet
