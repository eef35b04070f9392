// Batch normalization (Ioffe & Szegedy 2015) with PyTorch's nn.BatchNorm1d / nn.BatchNorm2d
// semantics: batch statistics in training, running averages in evaluation.
#ifndef SIMDNET_LAYERS_BATCH_NORM_H_
#define SIMDNET_LAYERS_BATCH_NORM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "layers/batch_norm_kernels.h"  // BatchNormActivation
#include "layers/batch_norm_sync.h"
#include "layers/layer.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// How `momentum` weighs the batch statistic in the running averages.
enum class BatchNormMomentum {
  // PyTorch nn.BatchNorm*d: running = (1 - momentum) * running + momentum * batch.
  kPyTorch,
  // ONNX BatchNormalization / Keras BatchNormalization: running = momentum * running +
  // (1 - momentum) * batch (so PyTorch's 0.1 is ONNX's 0.9).
  kOnnx,
};

// Which batch variance feeds running_var (the normalization itself always uses the biased one).
enum class BatchNormRunningVar {
  // PyTorch: the unbiased variance, sum of squared deviations / (m - 1).
  kUnbiased,
  // ONNX BatchNormalization (training_mode) and Keras: the biased variance, / m.
  kBiased,
};

struct BatchNormOptions {
  // Added to the variance before the square root.
  float eps = 1e-5f;
  // Weight of the running averages' update, read as momentum_convention says. Requires [0, 1].
  // The default (0.1, PyTorch convention, unbiased variance) is PyTorch's nn.BatchNorm2d().
  float momentum = 0.1f;
  BatchNormMomentum momentum_convention = BatchNormMomentum::kPyTorch;
  BatchNormRunningVar running_var = BatchNormRunningVar::kUnbiased;
  // Learnable per-channel scale "weight" (init 1) and shift "bias" (init 0).
  bool affine = true;
};

// Normalizes each channel over the batch (and spatial positions):
//   train: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias, var_B biased (divided by m =
//          N * spatial size); running_mean / running_var are updated as the options say
//          (by default running_var takes the unbiased m / (m - 1) correction, and its update is
//          skipped when m == 1, where that is undefined; the biased variance is always updated).
//   eval:  the same with running_mean / running_var in place of the batch statistics.
// Parameters (when affine): "weight" (C), "bias" (C), both weight_decay = false.
// Buffers: "running_mean" (C, init 0), "running_var" (C, init 1).
// Caches for Backward: a view of x, and the per-channel mean and 1/sqrt(var + eps) used by the
// last Forward (batch statistics in train mode, running ones in eval mode).
class BatchNorm : public Layer {
 public:
  const Shape& InputShape() const override { return shape_; }
  const Shape& OutputShape() const override { return shape_; }
  const BatchNormOptions& options() const { return options_; }
  int64_t num_channels() const { return shape_.dim(0); }

  // x is (N, ...InputShape()); y gets the same shape. Requires: N >= 1.
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, ...OutputShape()); dx is overwritten; weight/bias gradients accumulate unless
  // frozen. The gradient is that of the mode of the preceding Forward (in train mode it flows
  // through the batch statistics). Requires: a preceding Forward with the same N.
  void Backward(const Tensor& dy, Tensor* dx) override;

  // Forward followed by the activation `act` in one pass: y = act(BatchNorm(x)) (ReLU:
  // max(., 0); ReLU6: min(max(., 0), 6)), bit-identical to Forward then a ReLU / ReLU6 layer.
  // The same caches as Forward.
  void ForwardActivation(const Tensor& x, BatchNormActivation act, Tensor* y);
  // The backward of ForwardActivation: y is its output, dy the gradient at y; dx is overwritten
  // with the gradient at x (through the activation, whose derivative at its kinks is 0 as
  // PyTorch's, and the batch norm); parameter gradients accumulate as in Backward.
  // Bit-identical to the activation layer's Backward followed by Backward.
  // Requires: a preceding ForwardActivation(., act, .) with the same N that produced y.
  void BackwardActivation(const Tensor& y, BatchNormActivation act, const Tensor& dy,
                          Tensor* dx);
  // ForwardActivation followed by a max pooling over 2x2 windows with stride 2 and no padding
  // (Pool2d::IsMaxPool2x2) in train mode, without the full-size activation output: y becomes
  // (N, C, H / 2, W / 2) (floor), argmax (N * C * (H / 2) * (W / 2) entries) the pooling's
  // indices (Pool2d::indices()). Bit-identical to ForwardActivation then that pooling's
  // Forward; the same caches as Forward. Requires: a BatchNorm2d in train mode, H, W >= 2.
  void ForwardActivationMaxPool2x2(const Tensor& x, BatchNormActivation act, Tensor* y,
                                   int32_t* argmax);
  // The backward of ForwardActivationMaxPool2x2: y and argmax are its outputs, dy the gradient
  // at y; dx is overwritten with the gradient at x, parameter gradients accumulate as in
  // Backward. Bit-identical to the pooling's Backward, the activation's Backward and Backward.
  // Requires: a preceding ForwardActivationMaxPool2x2(., act, ., .) with the same N that
  // produced y and argmax.
  void BackwardActivationMaxPool2x2(const Tensor& y, const int32_t* argmax, BatchNormActivation act,
                                    const Tensor& dy, Tensor* dx);
  // Writes the output of the last Forward / ForwardActivation without the activation,
  // recomputed from the cached input and statistics (bit-identical; running statistics
  // untouched). Requires: a preceding Forward or ForwardActivation whose input is still alive.
  void RecomputeOutput(Tensor* y) const;

  // Makes train mode normalize with the statistics of a whole batch that is split across model
  // replicas running at the same time (train/batch_split.h): this layer is replica `rank` of
  // `sync` and exchanges its slice's per-channel sums there (null: the layer's own batch, the
  // default). While set, the sample count is sync->total_rows() times the spatial size, and only
  // rank 0 updates the running statistics and accumulates the weight / bias gradients (of the
  // whole batch); the other ranks leave theirs as they are. Eval mode does not use it.
  void SetBatchSync(BatchNormSync* sync, size_t rank) {
    sync_ = sync;
    sync_rank_ = rank;
  }

  // Writes the per-channel (C) scale and shift of the eval-mode map y = x * scale + shift
  // (running statistics), with the arithmetic of Forward in eval mode: scale = weight /
  // sqrt(running_var + eps), shift = bias - running_mean * scale.
  void EvalScaleShift(float* scale, float* shift) const;

  // The writable accessors below call NoteParametersChanged (layers/layer.h).
  // Returns {"weight", "bias"} when options().affine, else nothing.
  std::vector<NamedParameter> Params() override;
  // Returns {"running_mean", "running_var"}.
  std::vector<NamedBuffer> Buffers() override;
  // Return the per-channel (C) scale and shift. Requires: options().affine.
  Parameter& weight() {
    NoteParametersChanged();
    return weight_;
  }
  Parameter& bias() {
    NoteParametersChanged();
    return bias_;
  }
  // Return the running statistics (C) used in eval mode (writable, e.g. for loading).
  Tensor& running_mean() {
    NoteParametersChanged();
    return running_mean_;
  }
  Tensor& running_var() {
    NoteParametersChanged();
    return running_var_;
  }

 protected:
  BatchNorm(const BatchNormOptions& options, const Shape& shape);
  // Returns OK or InvalidArgument naming `layer` and the field for bad eps / momentum.
  static absl::Status ValidateOptions(const BatchNormOptions& options, const char* layer,
                                      const Shape& input_shape);
  std::string DescribeAs(const char* name) const;

 private:
  void ForwardImpl(const Tensor& x, Tensor* y, BatchNormActivation act);
  // Returns 1 / sqrt(running_var + eps) of channel ch, as eval mode uses it.
  float EvalRstd(size_t ch) const;
  // Moves running_mean_ / running_var_ towards mean_ and centered_sq / m (train mode).
  void UpdateRunningStats(double m, const float* centered_sq);
  // The sample count of the train-mode statistics of an input of n rows and spatial size s.
  double SampleCount(size_t n, size_t s) const {
    return static_cast<double>(sync_ != nullptr ? static_cast<size_t>(sync_->total_rows()) : n) *
           static_cast<double>(s);
  }
  // Whether this layer updates the running statistics and parameter gradients of a train-mode
  // step (see SetBatchSync).
  bool OwnsBatchResults() const { return sync_ == nullptr || sync_rank_ == 0; }
  // act_y: the fused activation's output (null when act == kNone).
  void BackwardImpl(const float* act_y, BatchNormActivation act, const Tensor& dy, Tensor* dx);

  BatchNormOptions options_;
  Shape shape_;
  Parameter weight_, bias_;
  Tensor running_mean_, running_var_;
  Tensor x_;  // view of the last input
  bool last_forward_train_ = true;
  // The last forward was ForwardActivationMaxPool2x2 (Backward must go through
  // BackwardActivationMaxPool2x2 or RecomputeOutput).
  bool last_forward_pooled_ = false;
  BatchNormSync* sync_ = nullptr;
  size_t sync_rank_ = 0;
  // Per-channel (C) working vectors, kept across calls.
  Tensor mean_, rstd_, scale_, shift_, sum_dy_, sum_dy_xc_, coef_b_, coef_d_;
};

// BatchNorm over (N, F) batches: per-sample input (F).
class BatchNorm1d : public BatchNorm {
 public:
  // Returns a BatchNorm1d for input_shape (F). InvalidArgument naming "BatchNorm1d", the field
  // and the shape if input_shape is not (F) with F >= 1, eps is not finite and > 0, or momentum
  // is not in [0, 1].
  static absl::StatusOr<std::unique_ptr<BatchNorm1d>> Create(const BatchNormOptions& options,
                                                             const Shape& input_shape);
  std::string TypeName() const override { return "batch_norm1d"; }
  // Returns e.g. "BatchNorm1d(84)" (eps / momentum / conventions / affine shown when not
  // default, e.g. "BatchNorm1d(84, momentum=0.9, momentum_convention=onnx, var=biased)").
  std::string Describe() const override { return DescribeAs("BatchNorm1d"); }

 private:
  using BatchNorm::BatchNorm;
};

// BatchNorm over NCHW batches: per-sample input (C, H, W), statistics over (N, H, W).
class BatchNorm2d : public BatchNorm {
 public:
  // Returns a BatchNorm2d for input_shape (C, H, W). InvalidArgument naming "BatchNorm2d", the
  // field and the shape if input_shape is not rank 3 with positive dims, or the options are bad
  // (as BatchNorm1d).
  static absl::StatusOr<std::unique_ptr<BatchNorm2d>> Create(const BatchNormOptions& options,
                                                             const Shape& input_shape);
  std::string TypeName() const override { return "batch_norm2d"; }
  std::string Describe() const override { return DescribeAs("BatchNorm2d"); }

 private:
  using BatchNorm::BatchNorm;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_BATCH_NORM_H_
