// Linear: the fully connected layer y = x W^T + b (PyTorch nn.Linear layout: W is
// (out_features, in_features)), computed with tensor/gemm.h Sgemm.
#ifndef SIMDNET_LAYERS_LINEAR_H_
#define SIMDNET_LAYERS_LINEAR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "layers/init.h"
#include "layers/layer.h"
#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

struct LinearOptions {
  int64_t out_features = 0;
  bool bias = true;
  // PyTorch's reset_parameters(): both U(-1/sqrt(in_features), 1/sqrt(in_features)).
  InitSpec weight_init = PyTorchDefaultInit();
  InitSpec bias_init = PyTorchDefaultInit();  // drawn with the weight's fan_in, as PyTorch
};

// Per-sample input (in_features), output (out_features). Parameters: "weight"
// (out_features, in_features), "bias" (out_features, weight_decay = false) unless bias=false.
// Caches for Backward: a view of the last input x (N, in_features).
class Linear : public Layer {
 public:
  // Returns a Linear layer for input_shape (in_features), initialized from rng (weight drawn
  // first, then bias). InvalidArgument naming the field and shapes if out_features < 1,
  // input_shape is not rank 1 with in_features >= 1, or an init spec is invalid.
  static absl::StatusOr<std::unique_ptr<Linear>> Create(const LinearOptions& options,
                                                        const Shape& input_shape, Rng& rng);

  std::string TypeName() const override { return "linear"; }
  // Returns e.g. "Linear(84, 10)" or "Linear(84, 10, bias=false)".
  std::string Describe() const override;
  const Shape& InputShape() const override { return input_shape_; }
  const Shape& OutputShape() const override { return output_shape_; }
  const LinearOptions& options() const { return options_; }
  int64_t in_features() const { return input_shape_.dim(0); }
  int64_t out_features() const { return output_shape_.dim(0); }

  // x is (N, in_features); y becomes (N, out_features). Requires: N >= 1.
  // N == 1: one GEMM on W transposed. Otherwise one non-transposed GEMM: y^T = W x^T after
  // transposing x when N < out_features, else y = x W^T after transposing W.
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, out_features); dx is overwritten with (N, in_features); weight/bias gradients
  // accumulate (+=) unless frozen. Requires: a preceding Forward with the same N.
  void Backward(const Tensor& dy, Tensor* dx) override;

  // Returns {"weight"} plus {"bias"} when options().bias.
  std::vector<NamedParameter> Params() override;
  int64_t ForwardMultAdds() const override;
  // Returns the weight (out_features, in_features) and its gradient.
  Parameter& weight() { return weight_; }
  // Returns the bias (out_features). Requires: options().bias.
  Parameter& bias() { return bias_; }

 private:
  Linear(const LinearOptions& options, const Shape& input_shape);

  LinearOptions options_;
  Shape input_shape_, output_shape_;
  Parameter weight_, bias_;
  Tensor x_;  // view of the last input
  // Forward's scratch, kept across calls: the transposed smaller operand and y^T.
  Tensor transposed_, yt_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_LINEAR_H_
