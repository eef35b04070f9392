// Adagrad (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for
// Online Learning and Stochastic Optimization"), following the update formula
// of the PyTorch doc for torch.optim.Adagrad (maximize=False):
//   clr = lr / (1 + (t - 1) * lr_decay)
//   g'  = g + wd * x          (coupled L2)
//   sum = sum + g'^2          (sum starts at initial_accumulator_value)
//   x  -= clr * g' / (sqrt(sum) + eps)
// where t is the parameter's own update count (1 on its first update), kept
// per parameter as PyTorch does, and lr is the step's learning rate (after the
// schedule and the group's lr_scale). State: "<name>/sum" and "<name>/step".
#ifndef SIMDNET_OPTIM_ADAGRAD_H_
#define SIMDNET_OPTIM_ADAGRAD_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optim/optimizer.h"

namespace simdnet {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  double weight_decay = 0.0;
};

class Adagrad : public Optimizer {
 public:
  // Returns an Adagrad optimizer; InvalidArgument naming the option and its
  // value if lr, lr_decay, initial_accumulator_value or weight_decay is
  // negative, eps <= 0, or any value is not finite.
  static absl::StatusOr<std::unique_ptr<Adagrad>> Create(
      const AdagradOptions& options);

  std::string TypeName() const override { return "adagrad"; }
  std::string ToSpec() const override;
  const AdagradOptions& options() const { return options_; }

 protected:
  std::vector<std::string> SlotNames() const override { return {"sum"}; }
  float SlotInitialValue(size_t /*slot*/) const override {
    return static_cast<float>(options_.initial_accumulator_value);
  }
  void UpdateRange(const Resolved& settings, int64_t step, const float* grad,
                   float* value, const std::vector<float*>& slots, size_t begin,
                   size_t end) const override;

 private:
  explicit Adagrad(const AdagradOptions& options)
      : Optimizer(options.lr, options.weight_decay), options_(options) {}
  AdagradOptions options_;
};

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_ADAGRAD_H_
