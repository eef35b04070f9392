// Residual: y = main(x) + shortcut(x), the building block of ResNets (He et al., CVPR 2016),
// with an identity shortcut or a projection (e.g. 1x1 strided conv + batch norm).
#ifndef SIMDNET_LAYERS_RESIDUAL_H_
#define SIMDNET_LAYERS_RESIDUAL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/layer.h"
#include "layers/sequential.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// The main branch's names are reported without a prefix ("0.weight", as the children of a
// PyTorch block) and the shortcut's under "shortcut." ("shortcut.0.weight"), or under the name
// given to Create (torchvision's ResNets call it "downsample": "downsample.0.weight").
// Backward: both branches overwrite their own dx, so the two input gradients are summed
// explicitly here. Caches: the main branch output, the shortcut output and the main branch's
// input gradient (reused across calls).
class Residual : public Layer {
 public:
  // Returns the block. `shortcut` may be null (identity). InvalidArgument if main is null, the
  // branches take different input shapes, or their output shapes differ (for the identity,
  // main's output must equal its input shape); the message names both shapes. Also if
  // `shortcut_name` is empty, contains '.' or whitespace, or equals a main-branch child's name.
  static absl::StatusOr<std::unique_ptr<Residual>> Create(
      std::unique_ptr<Sequential> main, std::unique_ptr<Sequential> shortcut,
      absl::string_view shortcut_name = "shortcut");

  std::string TypeName() const override { return "residual"; }
  std::string Describe() const override;
  const Shape& InputShape() const override { return main_->InputShape(); }
  const Shape& OutputShape() const override { return main_->OutputShape(); }

  // x is (N, ...InputShape()); y becomes (N, ...OutputShape()).
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, ...OutputShape()); dx = dmain + dshortcut, overwritten.
  void Backward(const Tensor& dy, Tensor* dx) override;

  std::vector<NamedParameter> Params() override;
  std::vector<NamedBuffer> Buffers() override;
  std::vector<NamedRng> Rngs() override;
  void SetMode(Mode mode) override;
  // The main branch's children under their own names (as their parameters are named), then
  // the projection shortcut as "shortcut" (absent for the identity).
  std::vector<NamedLayer> Children() override;
  // A main-branch child: back-propagates through the main branch below it. The shortcut: its
  // input is this block's input, so dx = grad.
  void BackwardBelowChild(size_t index, const Tensor& grad, Tensor* dx) override;

  Sequential& main() { return *main_; }
  const Sequential& main() const { return *main_; }
  // Returns null for the identity shortcut.
  Sequential* shortcut() { return shortcut_.get(); }
  const Sequential* shortcut() const { return shortcut_.get(); }
  // The name prefixing the shortcut's parameters and naming it in Children().
  const std::string& shortcut_name() const { return shortcut_name_; }

 private:
  Residual(std::unique_ptr<Sequential> main, std::unique_ptr<Sequential> shortcut,
           absl::string_view shortcut_name)
      : main_(std::move(main)), shortcut_(std::move(shortcut)), shortcut_name_(shortcut_name) {}

  std::unique_ptr<Sequential> main_;
  std::unique_ptr<Sequential> shortcut_;
  std::string shortcut_name_;
  Tensor main_out_, shortcut_out_, main_dx_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_RESIDUAL_H_
