// Flatten: reshapes each sample to a vector, (d0, d1, ...) -> (d0 * d1 * ...), as torch.nn.Flatten.
#ifndef SIMDNET_LAYERS_FLATTEN_H_
#define SIMDNET_LAYERS_FLATTEN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "layers/layer.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// Copies (N, ...input) to (N, prod(input)) row-major, so the element order is unchanged.
// No parameters, no cache.
class Flatten : public Layer {
 public:
  // Returns the layer for per-sample `input_shape` (rank 1..4, at least one element);
  // InvalidArgument otherwise.
  static absl::StatusOr<std::unique_ptr<Flatten>> Create(const Shape& input_shape);

  std::string TypeName() const override { return "flatten"; }
  std::string Describe() const override { return "Flatten()"; }
  const Shape& InputShape() const override { return input_shape_; }
  const Shape& OutputShape() const override { return output_shape_; }

  // x is (N, ...InputShape()); y becomes (N, prod(InputShape())).
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, prod(InputShape())); dx is overwritten with (N, ...InputShape()).
  void Backward(const Tensor& dy, Tensor* dx) override;

 private:
  explicit Flatten(const Shape& in) : input_shape_(in), output_shape_({in.size()}) {}

  Shape input_shape_, output_shape_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_FLATTEN_H_
