// Activation: element-wise ReLU, LeakyReLU, Tanh, Sigmoid and ReLU6 layers (kernels in
// tensor/elementwise.h and, for ReLU6, layers/clamp_kernels.h).
#ifndef SIMDNET_LAYERS_ACTIVATION_H_
#define SIMDNET_LAYERS_ACTIVATION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/layer.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// kRelu6 is min(max(x, 0), 6) (torch.nn.ReLU6, MobileNetV2), gradient 0 at 0 and 6 as PyTorch.
enum class ActivationKind { kRelu, kLeakyRelu, kTanh, kSigmoid, kRelu6 };

// Returns the spec/type name of `kind`: "relu", "leaky_relu", "tanh", "sigmoid", "relu6".
const char* ActivationKindName(ActivationKind kind);
// Parses a name written by ActivationKindName (also "lrelu", "leakyrelu"); InvalidArgument
// naming the text otherwise.
absl::StatusOr<ActivationKind> ParseActivationKind(absl::string_view name);

struct ActivationOptions {
  ActivationKind kind = ActivationKind::kRelu;
  // Slope for x < 0 of LeakyReLU (PyTorch's negative_slope); ignored by the other kinds.
  float negative_slope = 0.01f;
};

// Applies f element-wise; input shape (any rank, per sample) equals the output shape.
// Caches for Backward: x (ReLU, LeakyReLU, ReLU6, by reference, as the Layer contract allows) or a
// copy of y (Tanh, Sigmoid). No parameters.
class Activation : public Layer {
 public:
  // Returns an activation layer for per-sample `input_shape`. InvalidArgument if the slope is
  // not finite or the shape has rank 0 or no elements.
  static absl::StatusOr<std::unique_ptr<Activation>> Create(const ActivationOptions& options,
                                                             const Shape& input_shape);

  std::string TypeName() const override { return ActivationKindName(options_.kind); }
  std::string Describe() const override;
  const Shape& InputShape() const override { return shape_; }
  const Shape& OutputShape() const override { return shape_; }
  const ActivationOptions& options() const { return options_; }

  // x is (N, ...InputShape()); y gets the same shape.
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, ...OutputShape()); dx is overwritten with (N, ...InputShape()).
  // Requires: a preceding Forward with the same N.
  void Backward(const Tensor& dy, Tensor* dx) override;

 private:
  Activation(const ActivationOptions& options, const Shape& shape)
      : options_(options), shape_(shape) {}

  ActivationOptions options_;
  Shape shape_;
  Tensor x_;  // view of the last input (ReLU, LeakyReLU, ReLU6)
  Tensor y_;  // copy of the last output (Tanh, Sigmoid)
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_ACTIVATION_H_
