// Conv2d: the 2-D convolution layer (PyTorch nn.Conv2d semantics: cross-correlation with zero
// padding, stride, dilation and groups) over NCHW batches, computed by layers/conv2d_kernels.h.
#ifndef SIMDNET_LAYERS_CONV2D_H_
#define SIMDNET_LAYERS_CONV2D_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "layers/conv2d_kernels.h"
#include "layers/init.h"
#include "layers/layer.h"
#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// How the zero padding of a Conv2d is chosen.
enum class Conv2dPadding {
  // pad_h / pad_w on both sides, or `pads` when set (PyTorch's padding=(ph, pw), padding=0 is
  // "valid").
  kExplicit,
  // ONNX auto_pad=SAME_UPPER / TensorFlow / PyTorch padding="same": OH = ceil(H / stride_h)
  // with total = max((OH - 1) stride_h + dilation_h (kernel_h - 1) + 1 - H, 0) rows of zeros,
  // total / 2 at the top and the odd one at the bottom (likewise for W). PyTorch accepts "same"
  // only with stride 1; like ONNX, we accept any stride.
  kSameUpper,
  // ONNX auto_pad=SAME_LOWER: the same totals with the odd row / column at the top / left.
  kSameLower,
};

// Explicit, possibly asymmetric, zero padding (ONNX pads = [top, left, bottom, right]; PyTorch
// F.pad(x, (left, right, top, bottom)) before the convolution).
struct Conv2dPads {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
};

struct Conv2dOptions {
  int64_t out_channels = 0;
  int64_t kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  // Symmetric zero padding (rows at top and bottom, columns at left and right).
  int64_t pad_h = 0, pad_w = 0;
  // Asymmetric padding; when set, pad_h and pad_w must be 0. Symmetric pads (top == bottom and
  // left == right) run exactly as pad_h / pad_w; asymmetric ones copy the input into a
  // zero-padded scratch tensor first.
  std::optional<Conv2dPads> pads;
  // kSameUpper / kSameLower compute the pads from the input size; then pad_h, pad_w must be 0
  // and pads unset.
  Conv2dPadding padding = Conv2dPadding::kExplicit;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  bool bias = true;
  // PyTorch's reset_parameters(): kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in),
  // 1/sqrt(fan_in)) with fan_in = in_channels / groups * kernel_h * kernel_w, for both.
  InitSpec weight_init = PyTorchDefaultInit();
  InitSpec bias_init = PyTorchDefaultInit();  // drawn with the weight's fan_in, as PyTorch
};

// Per-sample input (C, H, W), output (out_channels, OH, OW) with
// OH = (H + top + bottom - dilation_h (kernel_h - 1) - 1) / stride_h + 1 (likewise OW), where
// top = bottom = pad_h unless `pads` or a SAME padding says otherwise (see resolved_pads()).
// Parameters: "weight" (out_channels, C / groups, kernel_h, kernel_w), "bias" (out_channels,
// weight_decay = false) unless bias=false.
// Caches for Backward: a view of the last input x (N, C, H, W), or with asymmetric pads its
// zero-padded copy (N, C, H + extra rows, W + extra columns).
class Conv2d : public Layer {
 public:
  // Returns a Conv2d for input_shape (C, H, W), initialized from rng (weight first, then bias).
  // InvalidArgument naming "Conv2d", the field and the shapes if: input_shape is not rank 3
  // with positive dims; out_channels, kernel, stride, dilation or groups < 1; a pad < 0; groups
  // does not divide C and out_channels; the dilated kernel does not fit the padded input; an
  // init spec is invalid; `pads` is set together with pad_h / pad_w; or a SAME padding is
  // combined with pad_h, pad_w or pads (the message names "padding" and the other field).
  static absl::StatusOr<std::unique_ptr<Conv2d>> Create(const Conv2dOptions& options,
                                                        const Shape& input_shape, Rng& rng);

  std::string TypeName() const override { return "conv2d"; }
  // Returns e.g. "Conv2d(3, 16, k=3x3, s=2, p=1)" (non-default fields only after the kernel;
  // "padding=same", "padding=same_lower" or "p=(top,left,bottom,right)" for the other modes).
  std::string Describe() const override;
  const Shape& InputShape() const override { return input_shape_; }
  const Shape& OutputShape() const override { return output_shape_; }
  const Conv2dOptions& options() const { return options_; }
  // Returns the zero padding actually applied (SAME paddings resolved for InputShape()).
  const Conv2dPads& resolved_pads() const { return pads_; }
  // Returns the algorithm each pass runs: PlanConv2d for this layer's shape on this CPU's best
  // target, at the batch size of the last Forward (1 before any; Winograd F(4x4, 3x3) needs
  // enough tiles in the batch).
  const ConvPlan& plan() const { return plan_; }
  // Returns the plan a Forward at batch size n would run (what `summary --plan` prints).
  ConvPlan PlanFor(int64_t n) const { return PlanConv2d(KernelShape(n)); }

  // x is (N, C, H, W); y becomes (N, out_channels, OH, OW). Requires: N >= 1.
  void Forward(const Tensor& x, Tensor* y) override;
  // Forward with `weight` (as many floats as weight(), same layout) and `bias` (out_channels
  // floats, or null: none) in place of the layer's parameters, and `epilogue` applied to the
  // output: how Sequential runs this layer folded with the BatchNorm (and ReLU) after it in an
  // inference pass. Caches as Forward.
  void ForwardWith(const Tensor& x, const float* weight, const float* bias, ConvEpilogue epilogue,
                   Tensor* y);
  // dy is (N, out_channels, OH, OW); dx is overwritten with (N, C, H, W); weight/bias gradients
  // accumulate (+=) unless frozen. Requires: a preceding Forward with the same N.
  void Backward(const Tensor& dy, Tensor* dx) override;
  // The weight and bias gradients without the input gradient (half the backward work).
  void BackwardParamsOnly(const Tensor& dy, Tensor* dx) override;

  // Returns {"weight"} plus {"bias"} when options().bias (NoteParametersChanged: they are
  // writable).
  std::vector<NamedParameter> Params() override;
  int64_t ForwardMultAdds() const override;
  // The lowered input of one image per thread (C/groups * kh * kw * OH * OW floats each) and
  // the per-batch weight-gradient partials: an upper estimate of the kernels' scratch.
  int64_t ScratchBytes(int64_t batch) const override;
  // Returns the weight (out_channels, C / groups, kernel_h, kernel_w) and its gradient
  // (the writable one calls NoteParametersChanged).
  Parameter& weight() {
    NoteParametersChanged();
    return weight_;
  }
  const Parameter& weight() const { return weight_; }
  // Returns the bias (out_channels). Requires: options().bias.
  Parameter& bias() {
    NoteParametersChanged();
    return bias_;
  }
  const Parameter& bias() const { return bias_; }

 private:
  Conv2d(const Conv2dOptions& options, const Conv2dPads& pads, const Shape& input_shape,
         const Shape& output_shape);
  // Returns the kernel shape descriptor for a batch of n.
  Conv2dShape KernelShape(int64_t n) const;

  // Whether the pads differ between the two sides of an axis: then Forward copies x into
  // padded_x_ with the excess (e.g. bottom - top) as explicit zeros, and the kernels pad the
  // common part min(top, bottom) as usual.
  bool Asymmetric() const {
    return pads_.top != pads_.bottom || pads_.left != pads_.right;
  }

  Conv2dOptions options_;
  Conv2dPads pads_;
  Shape input_shape_, output_shape_;
  Parameter weight_, bias_;
  ConvPlan plan_;            // what Forward and Backward run
  int64_t plan_batch_ = 1;   // the batch size plan_ was made for
  Tensor x_;                 // view of the last input
  Tensor scratch_weight_;    // weight-sized scratch when only the bias is trainable
  Tensor padded_x_;          // asymmetric pads only: the zero-padded input copy
  Tensor padded_dx_;         // asymmetric pads only: dx of padded_x_, cropped into dx
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV2D_H_
