// BatchNorm1d / BatchNorm2d: option validation, running statistics, and the closed-form
// backward, with the O(N*C*S) passes in layers/batch_norm_kernels.h and only O(C) per-channel
// bookkeeping here.
#include "layers/batch_norm.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "layers/batch_norm_kernels.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

// The replicas of a split batch that a layer's sums are added over (BatchNorm::SetBatchSync).
struct Replicas {
  BatchNormSync* sync;  // null: the layer's batch is the whole batch
  size_t rank;
  void Reduce(float* values, size_t count) const {
    if (sync != nullptr) sync->AllReduce(rank, values, count);
  }
};

// The layer's per-channel scalar arithmetic for BatchNormTrainForward (the same expressions as
// the separate passes in BatchNorm::ForwardImpl): mean = sum / m, rstd = 1 / sqrt(sq / m + eps),
// scale = weight * rstd, shift = bias - mean * scale; also keeps sq for the running variance.
class TrainStats final : public BatchNormChannelStats {
 public:
  // `replicas` sums the sums over the replicas of a split batch (BatchNorm::SetBatchSync).
  TrainStats(double m, float eps, const float* weight, const float* bias, float* mean, float* rstd,
             float* scale, float* shift, float* centered_sq, Replicas replicas)
      : m_(m), eps_(eps), weight_(weight), bias_(bias), mean_(mean), rstd_(rstd), scale_(scale),
        shift_(shift), centered_sq_(centered_sq), replicas_(replicas) {}

  float Mean(size_t ch, float sum) const override {
    replicas_.Reduce(&sum, 1);
    mean_[ch] = static_cast<float>(sum / m_);
    return mean_[ch];
  }
  void ScaleShift(size_t ch, float centered_sq, float* scale, float* shift) const override {
    replicas_.Reduce(&centered_sq, 1);
    centered_sq_[ch] = centered_sq;
    const double sq = centered_sq;
    rstd_[ch] = static_cast<float>(1.0 / std::sqrt(sq / m_ + eps_));
    const float g = weight_ != nullptr ? weight_[ch] : 1.0f;
    const float b = bias_ != nullptr ? bias_[ch] : 0.0f;
    scale_[ch] = g * rstd_[ch];
    shift_[ch] = b - mean_[ch] * scale_[ch];
    *scale = scale_[ch];
    *shift = shift_[ch];
  }

 private:
  double m_;
  float eps_;
  const float* weight_;
  const float* bias_;
  float* mean_;
  float* rstd_;
  float* scale_;
  float* shift_;
  float* centered_sq_;
  Replicas replicas_;
};

// The layer's per-channel step for BatchNormTrainBackward (the same expressions as
// BatchNorm::BackwardImpl's passes): parameter gradients (weight_grad / bias_grad null when not
// learned) and the dx coefficients b, d of dx = scale * g + b * x + d.
class TrainCoefs final : public BatchNormBackwardCoefs {
 public:
  TrainCoefs(double m, float* weight_grad, float* bias_grad, const float* mean, const float* rstd,
             const float* scale, float* coef_b, float* coef_d, Replicas replicas)
      : m_(m), weight_grad_(weight_grad), bias_grad_(bias_grad), mean_(mean), rstd_(rstd),
        scale_(scale), coef_b_(coef_b), coef_d_(coef_d), replicas_(replicas) {}

  void Coefs(size_t ch, float sum_g_in, float sum_gxc_in) const override {
    float sums[2] = {sum_g_in, sum_gxc_in};
    replicas_.Reduce(sums, 2);
    const float sum_g = sums[0], sum_gxc = sums[1];
    if (weight_grad_ != nullptr) weight_grad_[ch] += sum_gxc * rstd_[ch];
    if (bias_grad_ != nullptr) bias_grad_[ch] += sum_g;
    const double k = scale_[ch];
    const double r = rstd_[ch];
    const double b = -k * r * r * sum_gxc / m_;
    coef_b_[ch] = static_cast<float>(b);
    coef_d_[ch] = static_cast<float>(-k * sum_g / m_ - b * mean_[ch]);
  }

 private:
  double m_;
  float* weight_grad_;
  float* bias_grad_;
  const float* mean_;
  const float* rstd_;
  const float* scale_;
  float* coef_b_;
  float* coef_d_;
  Replicas replicas_;
};

}  // namespace

BatchNorm::BatchNorm(const BatchNormOptions& options, const Shape& shape)
    : options_(options), shape_(shape) {
  const Shape c({shape.dim(0)});
  if (options.affine) {
    weight_.value = Tensor(c);
    weight_.value.SetAll(1.0f);
    weight_.grad = Tensor(c);
    weight_.weight_decay = false;
    bias_.value = Tensor(c);
    bias_.grad = Tensor(c);
    bias_.weight_decay = false;
  }
  running_mean_ = Tensor(c);
  running_var_ = Tensor(c);
  running_var_.SetAll(1.0f);
  for (Tensor* t : {&mean_, &rstd_, &scale_, &shift_, &sum_dy_, &sum_dy_xc_, &coef_b_, &coef_d_}) {
    *t = Tensor(c);
  }
}

absl::Status BatchNorm::ValidateOptions(const BatchNormOptions& o, const char* layer,
                                        const Shape& input_shape) {
  if (!std::isfinite(o.eps) || !(o.eps > 0.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(layer, ": eps must be finite and > 0, got ",
                                                   o.eps, " (input_shape ", input_shape.ToString(),
                                                   ")"));
  }
  if (!(o.momentum >= 0.0f && o.momentum <= 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(layer, ": momentum must be in [0, 1], got ",
                                                   o.momentum, " (input_shape ",
                                                   input_shape.ToString(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BatchNorm1d>> BatchNorm1d::Create(const BatchNormOptions& options,
                                                                 const Shape& input_shape) {
  if (input_shape.rank() != 1 || input_shape.dim(0) < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("BatchNorm1d: input_shape ", input_shape.ToString(),
                     " must be (num_features) with num_features >= 1 (use BatchNorm2d for "
                     "(C, H, W))"));
  }
  SIMDNET_RETURN_IF_ERROR(ValidateOptions(options, "BatchNorm1d", input_shape));
  return std::unique_ptr<BatchNorm1d>(new BatchNorm1d(options, input_shape));
}

absl::StatusOr<std::unique_ptr<BatchNorm2d>> BatchNorm2d::Create(const BatchNormOptions& options,
                                                                 const Shape& input_shape) {
  if (input_shape.rank() != 3 || input_shape.size() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("BatchNorm2d: input_shape ",
                                                   input_shape.ToString(),
                                                   " must be (C, H, W) with positive dims"));
  }
  SIMDNET_RETURN_IF_ERROR(ValidateOptions(options, "BatchNorm2d", input_shape));
  return std::unique_ptr<BatchNorm2d>(new BatchNorm2d(options, input_shape));
}

std::string BatchNorm::DescribeAs(const char* name) const {
  std::string s = absl::StrCat(name, "(", num_channels());
  const BatchNormOptions defaults;
  if (options_.eps != defaults.eps) absl::StrAppend(&s, ", eps=", options_.eps);
  if (options_.momentum != defaults.momentum) {
    absl::StrAppend(&s, ", momentum=", options_.momentum);
  }
  if (options_.momentum_convention == BatchNormMomentum::kOnnx) {
    absl::StrAppend(&s, ", momentum_convention=onnx");
  }
  if (options_.running_var == BatchNormRunningVar::kBiased) absl::StrAppend(&s, ", var=biased");
  if (!options_.affine) absl::StrAppend(&s, ", affine=false");
  return s + ")";
}

std::vector<NamedParameter> BatchNorm::Params() {
  if (!options_.affine) return {};
  NoteParametersChanged();
  return {{"weight", &weight_}, {"bias", &bias_}};
}

std::vector<NamedBuffer> BatchNorm::Buffers() {
  NoteParametersChanged();
  return {{"running_mean", &running_mean_}, {"running_var", &running_var_}};
}

void BatchNorm::Forward(const Tensor& x, Tensor* y) {
  ForwardImpl(x, y, BatchNormActivation::kNone);
}

void BatchNorm::ForwardActivation(const Tensor& x, BatchNormActivation act, Tensor* y) {
  ForwardImpl(x, y, act);
}

void BatchNorm::ForwardActivationMaxPool2x2(const Tensor& x, BatchNormActivation act, Tensor* y,
                                            int32_t* argmax) {
  SIMDNET_CHECK(mode_ == Mode::kTrain && shape_.rank() == 3 && shape_.dim(1) >= 2 &&
                shape_.dim(2) >= 2);
  SIMDNET_CHECK(x.rank() == 4 && x.dim(0) >= 1 && x.dim(1) == shape_.dim(0) &&
                x.dim(2) == shape_.dim(1) && x.dim(3) == shape_.dim(2));
  const size_t n = static_cast<size_t>(x.dim(0));
  const size_t c = static_cast<size_t>(num_channels());
  const size_t h = static_cast<size_t>(shape_.dim(1)), w = static_cast<size_t>(shape_.dim(2));
  y->EnsureShape(Shape({x.dim(0), x.dim(1), x.dim(2) / 2, x.dim(3) / 2}));
  x_ = KeptForBackward(x);
  last_forward_train_ = true;
  last_forward_pooled_ = true;
  // ForwardImpl's train-mode statistics (TrainStats), then the pooled activation.
  const double m = SampleCount(n, h * w);
  const TrainStats stats(m, options_.eps, options_.affine ? weight_.value.data() : nullptr,
                         options_.affine ? bias_.value.data() : nullptr, mean_.data(), rstd_.data(),
                         scale_.data(), shift_.data(), sum_dy_xc_.data(), {sync_, sync_rank_});
  BatchNormTrainForwardMaxPool2x2(x.data(), n, c, h, w, stats, act, y->data(), argmax,
                                  &DefaultThreadPool());
  if (OwnsBatchResults()) UpdateRunningStats(m, sum_dy_xc_.data());
}

void BatchNorm::BackwardActivationMaxPool2x2(const Tensor& y, const int32_t* argmax,
                                             BatchNormActivation act, const Tensor& dy,
                                             Tensor* dx) {
  SIMDNET_CHECK(last_forward_pooled_ && y.shape() == dy.shape() && y.rank() == 4 &&
                y.dim(0) == x_.dim(0) && y.dim(1) == x_.dim(1) && y.dim(2) == x_.dim(2) / 2 &&
                y.dim(3) == x_.dim(3) / 2);
  const size_t n = static_cast<size_t>(x_.dim(0));
  const size_t c = static_cast<size_t>(num_channels());
  const size_t h = static_cast<size_t>(shape_.dim(1)), w = static_cast<size_t>(shape_.dim(2));
  dx->EnsureShape(x_.shape());
  // BackwardImpl's train-mode coefficients (TrainCoefs).
  const bool grads = options_.affine && OwnsBatchResults();
  const TrainCoefs coefs(SampleCount(n, h * w),
                         grads && Learns(weight_) ? weight_.grad.data() : nullptr,
                         grads && Learns(bias_) ? bias_.grad.data() : nullptr, mean_.data(),
                         rstd_.data(), scale_.data(), coef_b_.data(), coef_d_.data(),
                         {sync_, sync_rank_});
  BatchNormTrainBackwardMaxPool2x2(dy.data(), y.data(), argmax, act, x_.data(), mean_.data(),
                                   scale_.data(), coef_b_.data(), coef_d_.data(), n, c, h, w, coefs,
                                   sum_dy_.data(), sum_dy_xc_.data(), dx->data(),
                                   &DefaultThreadPool());
}

void BatchNorm::ForwardImpl(const Tensor& x, Tensor* y, BatchNormActivation act) {
  SIMDNET_CHECK(x.rank() == shape_.rank() + 1 && x.dim(0) >= 1);
  last_forward_pooled_ = false;
  for (int i = 0; i < shape_.rank(); ++i) SIMDNET_CHECK(x.dim(i + 1) == shape_.dim(i));
  const size_t n = static_cast<size_t>(x.dim(0));
  const size_t c = static_cast<size_t>(num_channels());
  const size_t s = static_cast<size_t>(shape_.SizeOf(1, shape_.rank()));
  y->EnsureShape(x.shape());
  x_ = KeptForBackward(x);
  ThreadPool& pool = DefaultThreadPool();
  last_forward_train_ = (mode_ == Mode::kTrain);
  if (last_forward_train_ && s > 1) {
    // One channel at a time (statistics, then its output while it is in cache), with the same
    // arithmetic as the passes below; sum_dy_xc_ (Backward's scratch) keeps the centered sums
    // of squares for the running variance meanwhile.
    const double m = SampleCount(n, s);
    const TrainStats stats(m, options_.eps, options_.affine ? weight_.value.data() : nullptr,
                           options_.affine ? bias_.value.data() : nullptr, mean_.data(),
                           rstd_.data(), scale_.data(), shift_.data(), sum_dy_xc_.data(),
                           {sync_, sync_rank_});
    BatchNormTrainForward(x.data(), n, c, s, stats, act, y->data(), &pool);
    if (OwnsBatchResults()) UpdateRunningStats(m, sum_dy_xc_.data());
    return;
  }
  if (last_forward_train_) {
    const double m = SampleCount(n, s);
    const Replicas replicas{sync_, sync_rank_};
    BatchNormChannelSums(x.data(), n, c, s, mean_.data(), &pool);
    replicas.Reduce(mean_.data(), c);
    for (size_t ch = 0; ch < c; ++ch) mean_[ch] = static_cast<float>(mean_[ch] / m);
    // Two-pass variance: sum of squared deviations from the mean (stable for large means).
    BatchNormChannelCenteredDots(x.data(), mean_.data(), x.data(), mean_.data(), n, c, s,
                                 rstd_.data(), &pool);
    replicas.Reduce(rstd_.data(), c);
    if (OwnsBatchResults()) UpdateRunningStats(m, rstd_.data());
    for (size_t ch = 0; ch < c; ++ch) {
      rstd_[ch] = static_cast<float>(1.0 / std::sqrt(rstd_[ch] / m + options_.eps));
    }
  } else {
    for (size_t ch = 0; ch < c; ++ch) {
      mean_[ch] = running_mean_[ch];
      rstd_[ch] = EvalRstd(ch);
    }
  }
  // y = x * scale + shift with scale = weight * rstd, shift = bias - mean * scale.
  for (size_t ch = 0; ch < c; ++ch) {
    const float g = options_.affine ? weight_.value[ch] : 1.0f;
    const float b = options_.affine ? bias_.value[ch] : 0.0f;
    scale_[ch] = g * rstd_[ch];
    shift_[ch] = b - mean_[ch] * scale_[ch];
  }
  if (act != BatchNormActivation::kNone) {
    BatchNormChannelAffineAct(x.data(), scale_.data(), shift_.data(), act, n, c, s, y->data(),
                              &pool);
  } else {
    BatchNormChannelAffine(x.data(), scale_.data(), shift_.data(), n, c, s, y->data(), &pool);
  }
}

float BatchNorm::EvalRstd(size_t ch) const {
  return static_cast<float>(1.0 /
                            std::sqrt(static_cast<double>(running_var_[ch]) + options_.eps));
}

void BatchNorm::EvalScaleShift(float* scale, float* shift) const {
  // The expressions of ForwardImpl in eval mode, so that the values are those Forward uses.
  for (size_t ch = 0; ch < static_cast<size_t>(num_channels()); ++ch) {
    const float g = options_.affine ? weight_.value[ch] : 1.0f;
    const float b = options_.affine ? bias_.value[ch] : 0.0f;
    scale[ch] = g * EvalRstd(ch);
    shift[ch] = b - running_mean_[ch] * scale[ch];
  }
}

void BatchNorm::UpdateRunningStats(double m, const float* centered_sq) {
  NoteParametersChanged();
  const size_t c = static_cast<size_t>(num_channels());
  {
    // keep * running + take * batch, in either momentum convention.
    const bool pytorch = options_.momentum_convention == BatchNormMomentum::kPyTorch;
    const float take = pytorch ? options_.momentum : 1.0f - options_.momentum;
    const float keep = 1.0f - take;
    const bool unbiased = options_.running_var == BatchNormRunningVar::kUnbiased;
    for (size_t ch = 0; ch < c; ++ch) {
      const double sq = centered_sq[ch];
      running_mean_[ch] = keep * running_mean_[ch] + take * mean_[ch];
      if (!unbiased || m > 1.0) {
        const double var = sq / (unbiased ? m - 1.0 : m);
        running_var_[ch] = keep * running_var_[ch] + take * static_cast<float>(var);
      }
    }
  }
}

void BatchNorm::RecomputeOutput(Tensor* y) const {
  const size_t n = static_cast<size_t>(x_.dim(0));
  const size_t c = static_cast<size_t>(num_channels());
  const size_t s = static_cast<size_t>(shape_.SizeOf(1, shape_.rank()));
  y->EnsureShape(x_.shape());
  BatchNormChannelAffine(x_.data(), scale_.data(), shift_.data(), n, c, s, y->data(),
                         &DefaultThreadPool());
}

void BatchNorm::Backward(const Tensor& dy, Tensor* dx) {
  BackwardImpl(nullptr, BatchNormActivation::kNone, dy, dx);
}

void BatchNorm::BackwardActivation(const Tensor& y, BatchNormActivation act, const Tensor& dy,
                                   Tensor* dx) {
  SIMDNET_CHECK(y.shape() == dy.shape() && act != BatchNormActivation::kNone);
  BackwardImpl(y.data(), act, dy, dx);
}

void BatchNorm::BackwardImpl(const float* act_y, BatchNormActivation act, const Tensor& dy,
                             Tensor* dx) {
  SIMDNET_CHECK(dy.shape() == x_.shape());
  const size_t n = static_cast<size_t>(dy.dim(0));
  const size_t c = static_cast<size_t>(num_channels());
  const size_t s = static_cast<size_t>(shape_.SizeOf(1, shape_.rank()));
  dx->EnsureShape(x_.shape());
  ThreadPool& pool = DefaultThreadPool();
  const bool learns = options_.affine && (Learns(weight_) || Learns(bias_));
  // With act, g = dy masked by the derivative of the fused activation at act_y, else g = dy.
  // Fixed statistics: y is affine in x, dx = g * weight * rstd (scale_ from Forward).
  const auto fixed_statistics_dx = [&] {
    Fill(coef_d_.data(), c, 0.0f);
    if (act == BatchNormActivation::kNone) {
      BatchNormChannelAffine(dy.data(), scale_.data(), coef_d_.data(), n, c, s, dx->data(), &pool);
    } else {
      Fill(coef_b_.data(), c, 0.0f);
      BatchNormChannelAffine2Masked(dy.data(), act_y, act, scale_.data(), x_.data(),
                                    coef_b_.data(), coef_d_.data(), n, c, s, dx->data(), &pool);
    }
  };
  if (!last_forward_train_ && !learns) {
    // Fixed statistics and no parameter gradient wanted (interpretation): only dx.
    fixed_statistics_dx();
    return;
  }
  if (last_forward_train_ && s > 1) {
    // One channel at a time (its sums, coefficients, dx while its dy and x are in cache), with
    // the arithmetic of the passes below.
    const bool grads = options_.affine && OwnsBatchResults();
    const TrainCoefs coefs(SampleCount(n, s),
                           grads && Learns(weight_) ? weight_.grad.data() : nullptr,
                           grads && Learns(bias_) ? bias_.grad.data() : nullptr, mean_.data(),
                           rstd_.data(), scale_.data(), coef_b_.data(), coef_d_.data(),
                           {sync_, sync_rank_});
    if (act != BatchNormActivation::kNone) {
      // The activation's mask from x and the forward's scale_ / shift_ (the fused forward wrote
      // act(x * scale_ + shift_)): the backward does not read the activation's output.
      BatchNormTrainBackwardFromInput(dy.data(), act, scale_.data(), shift_.data(), x_.data(),
                                      mean_.data(), scale_.data(), coef_b_.data(), coef_d_.data(),
                                      n, c, s, coefs, sum_dy_.data(), sum_dy_xc_.data(),
                                      dx->data(), &pool);
      return;
    }
    BatchNormTrainBackward(dy.data(), act_y, act, x_.data(), mean_.data(), scale_.data(),
                           coef_b_.data(), coef_d_.data(), n, c, s, coefs, sum_dy_.data(),
                           sum_dy_xc_.data(), dx->data(), &pool);
    return;
  }
  // sum_dy = sum g; sum_dy_xc = sum g * (x - mean), so sum g * xhat = sum_dy_xc * rstd.
  BatchNormChannelBackwardSums(dy.data(), act_y, act, x_.data(), mean_.data(), n, c, s,
                               sum_dy_.data(), sum_dy_xc_.data(), &pool);
  if (last_forward_train_) {
    // The whole batch's sums (eval mode: each replica's gradients are its own slice's).
    const Replicas replicas{sync_, sync_rank_};
    replicas.Reduce(sum_dy_.data(), c);
    replicas.Reduce(sum_dy_xc_.data(), c);
  }
  if (options_.affine && (!last_forward_train_ || OwnsBatchResults())) {
    for (size_t ch = 0; ch < c; ++ch) {
      if (Learns(weight_)) weight_.grad[ch] += sum_dy_xc_[ch] * rstd_[ch];
      if (Learns(bias_)) bias_.grad[ch] += sum_dy_[ch];
    }
  }
  if (!last_forward_train_) {
    fixed_statistics_dx();
    return;
  }
  // Train: with k = weight * rstd, m = N * S, xhat = (x - mean) * rstd,
  //   dx = k * (g - sum_g / m - xhat * sum(g * xhat) / m)
  //      = k * g + b * x + d,  b = -k * rstd^2 * sum_dy_xc / m,  d = -k * sum_dy / m - b * mean.
  const double m = SampleCount(n, s);
  for (size_t ch = 0; ch < c; ++ch) {
    const double k = scale_[ch];
    const double r = rstd_[ch];
    const double b = -k * r * r * sum_dy_xc_[ch] / m;
    coef_b_[ch] = static_cast<float>(b);
    coef_d_[ch] = static_cast<float>(-k * sum_dy_[ch] / m - b * mean_[ch]);
  }
  if (act == BatchNormActivation::kNone) {
    BatchNormChannelAffine2(dy.data(), scale_.data(), x_.data(), coef_b_.data(), coef_d_.data(), n,
                            c, s, dx->data(), &pool);
  } else {
    BatchNormChannelAffine2Masked(dy.data(), act_y, act, scale_.data(), x_.data(), coef_b_.data(),
                                  coef_d_.data(), n, c, s, dx->data(), &pool);
  }
}

}  // namespace simdnet
