// Regularizers: L2 (weight decay), L1 (lasso) and elastic net penalties over a model's
// parameters, added to the objective as a separate term and to the gradients.
#ifndef SIMDNET_LAYERS_REGULARIZER_H_
#define SIMDNET_LAYERS_REGULARIZER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/layer.h"

namespace simdnet {

// The penalty over the selected parameters w is
//   R(w) = l1 * sum |w| + (l2 / 2) * sum w^2,
// so its gradient is l1 * sign(w) + l2 * w: l2 alone is PyTorch's SGD weight_decay (coupled
// L2, Krogh & Hertz 1992), l1 alone is the lasso (Tibshirani 1996), both is the elastic net
// (Zou & Hastie 2005).
struct RegularizerOptions {
  float l1 = 0.0f;
  float l2 = 0.0f;
  // Which parameters are penalized. By default those whose Parameter::weight_decay flag is set
  // (layers clear it for biases and BatchNorm weights). Each override (name prefix, apply)
  // forces the decision for parameters whose name starts with the prefix; later overrides win.
  // E.g. {{"", true}} penalizes everything, {{"classifier.", false}} exempts the head.
  std::vector<std::pair<std::string, bool>> overrides;
};

class Regularizer {
 public:
  // Returns a regularizer. InvalidArgument naming the field if l1 or l2 is negative or not
  // finite.
  static absl::StatusOr<Regularizer> Create(const RegularizerOptions& options);

  // Parses "none", "l2:<l2>", "l1:<l1>" or "elastic:<l1>:<l2>" (e.g. "l2:5e-4");
  // InvalidArgument naming the text and the bad part.
  static absl::StatusOr<Regularizer> Parse(absl::string_view text);

  const RegularizerOptions& options() const { return options_; }
  // Returns true if both coefficients are zero (Penalty is 0, AddGradients does nothing).
  bool IsZero() const { return options_.l1 == 0.0f && options_.l2 == 0.0f; }

  // Returns whether `p` (named `name`) is penalized: never when frozen; else the last matching
  // override; else p.weight_decay.
  bool Applies(const std::string& name, const Parameter& p) const;

  // Returns R(w) over the selected parameters (accumulated in double). Does not touch grads.
  double Penalty(const std::vector<NamedParameter>& params) const;
  // Accumulates grad += l1 * sign(w) + l2 * w into every selected parameter's grad and returns
  // R(w), the value to report beside (not inside) the data loss.
  double AddGradients(const std::vector<NamedParameter>& params) const;

  // Returns e.g. "elastic(l1=1e-05, l2=0.0005)" or "none".
  std::string Describe() const;

 private:
  explicit Regularizer(const RegularizerOptions& options) : options_(options) {}

  RegularizerOptions options_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_REGULARIZER_H_
