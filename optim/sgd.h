// Stochastic gradient descent in the forms taught in the lecture (CS231n
// "Parameter updates"): vanilla, momentum in the classic, PyTorch and averaged
// forms, and Nesterov momentum.
//
// g' = g + wd * x when weight decay is coupled (L2 added to the gradient).
// When it is decoupled (SGDW, Loshchilov & Hutter 2019, "Decoupled Weight
// Decay Regularization"), g' = g and x is first multiplied by (1 - lr * wd).
// The update of a parameter x with velocity v (mu = momentum) is:
//   vanilla (momentum=0):
//     x += -lr * g'
//   classic (form=classic, the default; CS231n):
//     v = mu * v - lr * g'
//     x += v
//   classic + Nesterov (Sutskever et al. 2013 in the CS231n form
//   x += -mu * v_prev + (1 + mu) * v, which equals):
//     v = mu * v - lr * g'
//     x += mu * v - lr * g'
//   PyTorch (form=pytorch; torch.optim.SGD with dampening=0):
//     v = mu * v + g'
//     x += -lr * v
//   PyTorch + Nesterov (torch.optim.SGD nesterov=True):
//     v = mu * v + g'
//     x += -lr * (g' + mu * v)
//   averaged (form=averaged; an exponential moving average of the gradient
//   with weight b = 1 - mu):
//     v = (1 - b) * v + b * g'     (= mu * v + (1 - mu) * g')
//     x += -lr * v
//     v starts at 0 (PyTorch's dampening=mu instead sets v = g' on the first
//     step); Nesterov is not defined for this form, as in PyTorch.
// For a constant lr the classic and PyTorch forms give the same trajectory
// (v_classic = -lr * v_pytorch); they differ when lr changes, the classic
// velocity carrying the old lr.
#ifndef SIMDNET_OPTIM_SGD_H_
#define SIMDNET_OPTIM_SGD_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optim/optimizer.h"

namespace simdnet {

enum class MomentumForm { kClassic, kPyTorch, kAveraged };

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;  // mu in [0, 1)
  MomentumForm form = MomentumForm::kClassic;
  bool nesterov = false;  // Requires momentum > 0 and form != kAveraged.
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;
};

class Sgd : public Optimizer {
 public:
  // Returns an SGD optimizer; InvalidArgument naming the option and its value
  // if lr < 0, momentum outside [0, 1), weight_decay < 0, any value non-finite,
  // or nesterov is requested without momentum or with the averaged form.
  static absl::StatusOr<std::unique_ptr<Sgd>> Create(const SgdOptions& options);

  std::string TypeName() const override { return "sgd"; }
  std::string ToSpec() const override;
  const SgdOptions& options() const { return options_; }

 protected:
  std::vector<std::string> SlotNames() const override;
  void UpdateRange(const Resolved& settings, int64_t step, const float* grad,
                   float* value, const std::vector<float*>& slots, size_t begin,
                   size_t end) const override;

 private:
  explicit Sgd(const SgdOptions& options)
      : Optimizer(options.lr, options.weight_decay), options_(options) {}
  SgdOptions options_;
};

// Returns the spec name of a momentum form: "classic", "pytorch" or "averaged".
const char* MomentumFormName(MomentumForm form);

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_SGD_H_
