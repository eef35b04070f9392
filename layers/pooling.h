// Pooling layers: Pool2d (max or average over kh x kw windows), MaxUnpool2d (its inverse at the
// argmax positions) and GlobalAvgPool2d ((C, H, W) -> (C)), on NCHW batches via
// layers/pool2d_kernels.h, layers/pool2d_general.h and tensor/reduce.h.
#ifndef SIMDNET_LAYERS_POOLING_H_
#define SIMDNET_LAYERS_POOLING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "layers/layer.h"
#include "layers/pool2d_general.h"
#include "layers/pool2d_kernels.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

enum class PoolKind { kMax, kAvg };

// ONNX auto_pad for pooling (TensorFlow's padding="SAME" is kSameUpper).
enum class PoolAutoPad { kNotSet, kSameUpper, kSameLower };

struct Pool2dOptions {
  PoolKind kind = PoolKind::kMax;
  int64_t kernel_h = 2, kernel_w = 2;
  // 0 means "equal to the kernel size" (PyTorch's stride=None).
  int64_t stride_h = 0, stride_w = 0;
  // Padding at the top and left, and also at the bottom and right unless pad_bottom / pad_right
  // are set (asymmetric padding: ONNX pads = (pad_h, pad_w, pad_bottom, pad_right)). Each
  // explicit pad is at most half the (undilated) kernel, PyTorch's rule.
  int64_t pad_h = 0, pad_w = 0;
  std::optional<int64_t> pad_bottom, pad_right;
  // Instead of explicit pads: pads such that out = ceil(in / stride) (ONNX auto_pad SAME_*),
  // total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - in, 0) per axis, split in
  // half with the odd pixel at the end (kSameUpper) or the beginning (kSameLower).
  PoolAutoPad auto_pad = PoolAutoPad::kNotSet;
  // Spacing between the taps of a window; max pooling only (PyTorch's avg_pool2d has none).
  int64_t dilation_h = 1, dilation_w = 1;
  // Rounds the output size up, PyTorch's ceil_mode: out = ceil((in + pad_begin + pad_end -
  // dilation * (kernel - 1) - 1) / stride) + 1, minus one if the last window would start in the
  // bottom/right padding.
  bool ceil_mode = false;
  // Average pooling only: whether padded cells count in the divisor (PyTorch's default true).
  // Cells that ceil_mode adds beyond the padding never count, as in PyTorch.
  bool count_include_pad = true;
  // Average pooling only: when > 0, every window sum is divided by this (PyTorch's
  // divisor_override); count_include_pad is then irrelevant.
  int64_t divisor_override = 0;
  // Max pooling only: the name a later "maxunpool NAME" refers to in model specs (empty: none).
  // Does not affect the computation.
  std::string name;
};

// Max or average pooling, (C, H, W) -> (C, out_h, out_w) with out = (in + pad_begin + pad_end -
// dilation * (k - 1) - 1) / s + 1 (floor, or ceil with ceil_mode). Max pooling caches the
// argmax indices for Backward (see indices()); average pooling caches nothing. No parameters.
// Symmetric floor-mode pooling without dilation or divisor_override runs the SIMD kernels of
// pool2d_kernels.h; the other options run the scalar kernels of pool2d_general.h.
class Pool2d : public Layer {
 public:
  // Returns a pooling layer for per-sample `input_shape` (C, H, W). InvalidArgument naming the
  // field and the shape if a kernel/stride/dilation is < 1, a pad is negative or more than half
  // the kernel, the window does not fit the padded input, auto_pad is combined with explicit
  // pads, or an option of the other pooling kind is set (dilation for average pooling,
  // divisor_override for max pooling).
  static absl::StatusOr<std::unique_ptr<Pool2d>> Create(const Pool2dOptions& options,
                                                         const Shape& input_shape);

  std::string TypeName() const override {
    return options_.kind == PoolKind::kMax ? "maxpool2d" : "avgpool2d";
  }
  std::string Describe() const override;
  const Shape& InputShape() const override { return input_shape_; }
  const Shape& OutputShape() const override { return output_shape_; }
  // Options with strides resolved (never 0) and pads resolved to explicit values (pad_bottom
  // and pad_right set; auto_pad kNotSet, its pads written out, which may exceed the explicit
  // limit of half the kernel when dilated).
  const Pool2dOptions& options() const { return options_; }
  // Max pooling: the argmax of each output of the last Forward, (N, C, out_h, out_w) row-major,
  // as the flat index h * W + w into the unpadded input plane (PyTorch's return_indices; -1 for
  // a window holding only padding). Empty for average pooling and before the first Forward.
  // A Forward inside an InferenceScope (no Backward follows) leaves them as they were unless a
  // MaxUnpool2d is paired with this layer.
  const std::vector<int32_t>& indices() const { return argmax_; }

  // x is (N, C, H, W); y becomes (N, C, out_h, out_w).
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, C, out_h, out_w); dx is overwritten with (N, C, H, W).
  // Requires: a preceding Forward (or ArgmaxForFusedForward) with the same N.
  void Backward(const Tensor& dy, Tensor* dx) override;

  // Returns whether this is a max pooling over 2x2 windows with stride 2, no padding or
  // dilation and the floor output size (H / 2, W / 2), the pooling that
  // BatchNorm::ForwardActivationMaxPool2x2 computes.
  bool IsMaxPool2x2() const;
  // For a Forward computed by another layer (Sequential's fused BatchNorm + activation + this
  // pooling): records N as Forward does, sizes indices() for it and returns its storage, which
  // the caller fills as Forward would. Requires: IsMaxPool2x2(), N >= 1.
  int32_t* ArgmaxForFusedForward(int64_t batch);

 private:
  Pool2d(const Pool2dOptions& options, const Shape& in, const Shape& out)
      : options_(options), input_shape_(in), output_shape_(out) {}
  Pool2dShape KernelShape(int64_t batch) const;
  Pool2dGeometry Geometry(int64_t batch) const;
  // Whether the SIMD kernels of pool2d_kernels.h cover the options (symmetric padding, no
  // dilation, no divisor_override, floor-mode output size).
  bool UsesSimdKernels() const;

  Pool2dOptions options_;
  Shape input_shape_, output_shape_;
  std::vector<int32_t> argmax_;  // max pooling: (N, C, out_h, out_w) indices of the last Forward
  // A MaxUnpool2d reads indices() (set by MaxUnpool2d::Create): every Forward writes them.
  mutable bool indices_read_ = false;
  friend class MaxUnpool2d;
  int64_t batch_ = 0;            // N of the last Forward
};

// Max unpooling, PyTorch's MaxUnpool2d with output_size = the paired pool's input size: each
// input value goes to the argmax position that its paired max pooling layer recorded in its
// last Forward (Pool2d::indices()), zeros elsewhere: (C, out_h, out_w) -> (C, H, W). When
// overlapping windows share an argmax, the last window's value wins (PyTorch leaves this
// order unspecified). Backward gathers dy at the same positions, as PyTorch. No parameters.
class MaxUnpool2d : public Layer {
 public:
  // Returns the unpooling layer paired with `pool`. InvalidArgument if pool is null or average
  // pooling, or input_shape differs from pool->OutputShape() (both shapes named).
  // Requires: *pool outlives this layer and runs Forward on the same batch size before each
  // Forward of this layer (as in an encoder-decoder Sequential).
  static absl::StatusOr<std::unique_ptr<MaxUnpool2d>> Create(const Pool2d* pool,
                                                              const Shape& input_shape);

  std::string TypeName() const override { return "maxunpool2d"; }
  // Returns the paired max pooling layer.
  const Pool2d& pool() const { return *pool_; }
  std::string Describe() const override;
  const Shape& InputShape() const override { return pool_->OutputShape(); }
  const Shape& OutputShape() const override { return pool_->InputShape(); }

  // x is (N, C, out_h, out_w) of the pool; y becomes (N, C, H, W).
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, C, H, W); dx is overwritten with (N, C, out_h, out_w). Requires: the pool's
  // indices are those the preceding Forward used.
  void Backward(const Tensor& dy, Tensor* dx) override;

 private:
  explicit MaxUnpool2d(const Pool2d* pool) : pool_(pool) {}

  const Pool2d* pool_;
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
