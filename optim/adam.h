// Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization") and
// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"),
// following the update formulas of the PyTorch docs for torch.optim.Adam and
// torch.optim.AdamW (amsgrad=False, maximize=False):
//   g' = g + wd * x        (Adam: coupled L2)
//   g' = g, x *= 1 - lr*wd (AdamW: decoupled decay, applied to the old x)
//   m  = b1 * m + (1 - b1) * g'
//   v  = b2 * v + (1 - b2) * g'^2
//   x -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// where t is the parameter's own update count (1 on its first update), as
// PyTorch keeps per parameter. The bias corrections are computed in double
// from t and the float-rounded betas the moments are averaged with (PyTorch
// uses the unrounded betas there: a relative difference of about 1e-5 in the
// first steps, vanishing as t grows).
#ifndef SIMDNET_OPTIM_ADAM_H_
#define SIMDNET_OPTIM_ADAM_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optim/optimizer.h"

namespace simdnet {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  // false: Adam's L2 added to the gradient; true: AdamW's decoupled decay.
  bool decoupled_weight_decay = false;
};

class Adam : public Optimizer {
 public:
  // Returns an Adam (decoupled_weight_decay=false) or AdamW optimizer;
  // InvalidArgument naming the option and its value if lr < 0, a beta is
  // outside [0, 1), eps <= 0, weight_decay < 0, or any value is not finite.
  static absl::StatusOr<std::unique_ptr<Adam>> Create(
      const AdamOptions& options);

  // "adam", or "adamw" when the weight decay is decoupled.
  std::string TypeName() const override;
  std::string ToSpec() const override;
  const AdamOptions& options() const { return options_; }

 protected:
  std::vector<std::string> SlotNames() const override {
    return {"exp_avg", "exp_avg_sq"};
  }
  void UpdateRange(const Resolved& settings, int64_t step, const float* grad,
                   float* value, const std::vector<float*>& slots, size_t begin,
                   size_t end) const override;

 private:
  explicit Adam(const AdamOptions& options)
      : Optimizer(options.lr, options.weight_decay), options_(options) {}
  AdamOptions options_;
};

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_ADAM_H_
