// LogSoftmax: the log-softmax layer (PyTorch nn.LogSoftmax(dim=1)), the input of NllLoss
// (layers/loss.h) when a network outputs log-probabilities.
#ifndef SIMDNET_LAYERS_LOG_SOFTMAX_H_
#define SIMDNET_LAYERS_LOG_SOFTMAX_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "layers/layer.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// y = x - max - log(sum exp(x - max)) over the first per-sample axis (dim 1 of the batch, as
// PyTorch's usual dim=1): per-sample input (C) or (C, ...), output of the same shape, computed
// stably (the max is subtracted before exp). Backward: dx = dy - softmax(x) * sum_c dy.
// Caches for Backward: a copy of y. No parameters.
class LogSoftmax : public Layer {
 public:
  // Returns a LogSoftmax for per-sample `input_shape`. InvalidArgument naming "LogSoftmax" and
  // the shape if it has rank 0, rank >= Shape::kMaxRank or no elements.
  static absl::StatusOr<std::unique_ptr<LogSoftmax>> Create(const Shape& input_shape);

  std::string TypeName() const override { return "log_softmax"; }
  std::string Describe() const override { return "LogSoftmax(dim=1)"; }
  const Shape& InputShape() const override { return shape_; }
  const Shape& OutputShape() const override { return shape_; }

  // x is (N, ...InputShape()); y gets the same shape. Requires: N >= 1.
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, ...OutputShape()); dx is overwritten. Requires: a preceding Forward with the
  // same N.
  void Backward(const Tensor& dy, Tensor* dx) override;

 private:
  explicit LogSoftmax(const Shape& shape) : shape_(shape) {}

  Shape shape_;
  Tensor y_;    // copy of the last output
  Tensor sum_;  // (N, inner) sums of dy over the softmax axis
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_LOG_SOFTMAX_H_
