// Pooling layers: Pool2d (max or average over kh x kw windows) and GlobalAvgPool2d
// ((C, H, W) -> (C)), on NCHW batches via layers/pool2d_kernels.h and tensor/reduce.h.
#ifndef SIMDNET_LAYERS_POOLING_H_
#define SIMDNET_LAYERS_POOLING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "layers/layer.h"
#include "layers/pool2d_kernels.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

enum class PoolKind { kMax, kAvg };

struct Pool2dOptions {
  PoolKind kind = PoolKind::kMax;
  int64_t kernel_h = 2, kernel_w = 2;
  // 0 means "equal to the kernel size" (PyTorch's stride=None).
  int64_t stride_h = 0, stride_w = 0;
  int64_t pad_h = 0, pad_w = 0;
  // Average pooling only: whether padded cells count in the divisor (PyTorch's default true).
  bool count_include_pad = true;
};

// Max or average pooling, (C, H, W) -> (C, out_h, out_w) with out = (in + 2 pad - k) / s + 1
// (floor, as PyTorch with ceil_mode=False). Max pooling caches the argmax indices for Backward;
// average pooling caches nothing. No parameters.
class Pool2d : public Layer {
 public:
  // Returns a pooling layer for per-sample `input_shape` (C, H, W). InvalidArgument naming the
  // field and the shape if a kernel/stride is < 1, a pad is negative or more than half the
  // kernel, or the window does not fit the padded input.
  static absl::StatusOr<std::unique_ptr<Pool2d>> Create(const Pool2dOptions& options,
                                                         const Shape& input_shape);

  std::string TypeName() const override {
    return options_.kind == PoolKind::kMax ? "maxpool2d" : "avgpool2d";
  }
  std::string Describe() const override;
  const Shape& InputShape() const override { return input_shape_; }
  const Shape& OutputShape() const override { return output_shape_; }
  // Options with strides resolved (never 0).
  const Pool2dOptions& options() const { return options_; }

  // x is (N, C, H, W); y becomes (N, C, out_h, out_w).
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, C, out_h, out_w); dx is overwritten with (N, C, H, W).
  // Requires: a preceding Forward with the same N.
  void Backward(const Tensor& dy, Tensor* dx) override;

 private:
  Pool2d(const Pool2dOptions& options, const Shape& in, const Shape& out)
      : options_(options), input_shape_(in), output_shape_(out) {}
  Pool2dShape KernelShape(int64_t batch) const;

  Pool2dOptions options_;
  Shape input_shape_, output_shape_;
  std::vector<int32_t> argmax_;  // max pooling: (N, C, out_h, out_w) indices of the last Forward
  int64_t batch_ = 0;            // N of the last Forward
};

// Averages each channel over its H x W plane: (C, H, W) -> (C). No parameters, no cache
// beyond the batch size.
class GlobalAvgPool2d : public Layer {
 public:
  // Returns the layer for per-sample `input_shape` (C, H, W); InvalidArgument if the rank is
  // not 3 or a dim is 0.
  static absl::StatusOr<std::unique_ptr<GlobalAvgPool2d>> Create(const Shape& input_shape);

  std::string TypeName() const override { return "global_avgpool2d"; }
  std::string Describe() const override { return "GlobalAvgPool2d()"; }
  const Shape& InputShape() const override { return input_shape_; }
  const Shape& OutputShape() const override { return output_shape_; }

  // x is (N, C, H, W); y becomes (N, C).
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, C); dx is overwritten with (N, C, H, W), each cell dy / (H * W).
  void Backward(const Tensor& dy, Tensor* dx) override;

 private:
  explicit GlobalAvgPool2d(const Shape& in)
      : input_shape_(in), output_shape_({in.dim(0)}) {}

  Shape input_shape_, output_shape_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_POOLING_H_
