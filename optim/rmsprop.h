// RMSProp (Hinton, Srivastava & Swersky, "Neural Networks for Machine
// Learning", lecture 6e), following the update formula of the PyTorch doc for
// torch.optim.RMSprop (centered=False):
//   g'  = g + wd * x         (coupled L2; with decoupled=1: g' = g and
//                             x *= 1 - lr * wd, applied to the old x)
//   sq  = alpha * sq + (1 - alpha) * g'^2
//   without momentum: x -= lr * g' / (sqrt(sq) + eps)
//   with momentum:    buf = momentum * buf + g' / (sqrt(sq) + eps)
//                     x  -= lr * buf
#ifndef SIMDNET_OPTIM_RMSPROP_H_
#define SIMDNET_OPTIM_RMSPROP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optim/optimizer.h"

namespace simdnet {

struct RmspropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;
};

class Rmsprop : public Optimizer {
 public:
  // Returns an RMSProp optimizer; InvalidArgument naming the option and its
  // value if lr < 0, alpha or momentum is outside [0, 1), eps <= 0,
  // weight_decay < 0, or any value is not finite.
  static absl::StatusOr<std::unique_ptr<Rmsprop>> Create(
      const RmspropOptions& options);

  std::string TypeName() const override { return "rmsprop"; }
  std::string ToSpec() const override;
  const RmspropOptions& options() const { return options_; }

 protected:
  std::vector<std::string> SlotNames() const override;
  void UpdateRange(const Resolved& settings, int64_t step, const float* grad,
                   float* value, const std::vector<float*>& slots, size_t begin,
                   size_t end) const override;

 private:
  explicit Rmsprop(const RmspropOptions& options)
      : Optimizer(options.lr, options.weight_decay), options_(options) {}
  RmspropOptions options_;
};

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_RMSPROP_H_
