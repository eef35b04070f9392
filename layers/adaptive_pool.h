// AdaptiveAvgPool2d: average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d), as
// torchvision's VGG / AlexNet / ResNet heads use it, plus its plain forward/backward kernels.
#ifndef SIMDNET_LAYERS_ADAPTIVE_POOL_H_
#define SIMDNET_LAYERS_ADAPTIVE_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "layers/layer.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

class ThreadPool;

// Geometry of one adaptive pooling call: `planes` = N * C planes of in_h x in_w, pooled to
// out_h x out_w. Output cell (i, j) averages input rows [floor(i * in_h / out_h),
// ceil((i + 1) * in_h / out_h)) and the same for columns (PyTorch's start/end index rule), so
// windows may overlap (out > in repeats cells) and differ in size.
struct AdaptivePoolShape {
  size_t planes = 0;
  size_t in_h = 0, in_w = 0;
  size_t out_h = 0, out_w = 0;
};

// Returns the first input row/column of output index i (floor(i * in / out)).
inline size_t AdaptiveStart(size_t i, size_t in, size_t out) { return (i * in) / out; }
// Returns one past the last input row/column of output index i (ceil((i + 1) * in / out)).
inline size_t AdaptiveEnd(size_t i, size_t in, size_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// Computes y (planes, out_h, out_w) from x (planes, in_h, in_w). Each window is summed in
// float, row by row, then divided by its cell count. Planes run in parallel on `pool` (may be
// null); results do not depend on the thread count.
// Requires: every size >= 1; x and y do not overlap.
void AdaptiveAvgPoolForward(const float* x, float* y, const AdaptivePoolShape& s,
                            ThreadPool* pool);
// OVERWRITES dx (planes, in_h, in_w) with the gradient: each output cell's dy / count is added
// to every input cell of its window. Requires: as AdaptiveAvgPoolForward.
void AdaptiveAvgPoolBackward(const float* dy, float* dx, const AdaptivePoolShape& s,
                             ThreadPool* pool);

struct AdaptiveAvgPool2dOptions {
  int64_t out_h = 1;
  int64_t out_w = 1;
};

// (C, H, W) -> (C, out_h, out_w). No parameters; caches only the batch size. When the output
// size equals the input size (VGG's 7x7 head at 224x224) Forward and Backward are copies.
class AdaptiveAvgPool2d : public Layer {
 public:
  // Returns the layer for per-sample `input_shape` (C, H, W). InvalidArgument naming the field
  // and the shape if the rank is not 3, a dim is 0, or out_h / out_w is not in [1, 65536].
  static absl::StatusOr<std::unique_ptr<AdaptiveAvgPool2d>> Create(
      const AdaptiveAvgPool2dOptions& options, const Shape& input_shape);

  std::string TypeName() const override { return "adaptive_avgpool2d"; }
  // "AdaptiveAvgPool2d(output_size=(7, 7))".
  std::string Describe() const override;
  const Shape& InputShape() const override { return input_shape_; }
  const Shape& OutputShape() const override { return output_shape_; }
  const AdaptiveAvgPool2dOptions& options() const { return options_; }

  // x is (N, C, H, W); y becomes (N, C, out_h, out_w).
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, C, out_h, out_w); dx is overwritten with (N, C, H, W).
  void Backward(const Tensor& dy, Tensor* dx) override;

 private:
  AdaptiveAvgPool2d(const AdaptiveAvgPool2dOptions& options, const Shape& in, const Shape& out)
      : options_(options), input_shape_(in), output_shape_(out) {}
  AdaptivePoolShape KernelShape(int64_t batch) const;

  AdaptiveAvgPool2dOptions options_;
  Shape input_shape_, output_shape_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_ADAPTIVE_POOL_H_
