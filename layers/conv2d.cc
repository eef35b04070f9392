// Conv2d layer: option and shape validation, PyTorch-default initialization, and the calls into
// the convolution kernels.
#include "layers/conv2d.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {


const char* PaddingName(Conv2dPadding p) {
  switch (p) {
    case Conv2dPadding::kExplicit:
      return "explicit";
    case Conv2dPadding::kSameUpper:
      return "same";
    case Conv2dPadding::kSameLower:
      return "same_lower";
  }
  return "unknown";
}

absl::Status Invalid(const Conv2dOptions& o, const Shape& input_shape, absl::string_view what) {
  std::string padding;
  if (o.pads) {
    padding = absl::StrCat(", pads (top ", o.pads->top, ", left ", o.pads->left, ", bottom ",
                           o.pads->bottom, ", right ", o.pads->right, ")");
  }
  if (o.padding != Conv2dPadding::kExplicit) {
    absl::StrAppend(&padding, ", padding ", PaddingName(o.padding));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "Conv2d: ", what, " (input_shape ", input_shape.ToString(), ", out_channels ",
      o.out_channels, ", kernel ", o.kernel_h, "x", o.kernel_w, ", stride ", o.stride_h, "x",
      o.stride_w, ", pad ", o.pad_h, "x", o.pad_w, padding, ", dilation ", o.dilation_h, "x",
      o.dilation_w, ", groups ", o.groups, ")"));
}

// Returns (before, after) SAME padding of one axis: total = max((ceil(in / stride) - 1) stride
// + eff_k - in, 0), the odd element after (upper) or before (lower).
std::pair<int64_t, int64_t> SamePads(int64_t in, int64_t stride, int64_t eff_k, bool upper) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + eff_k - in, 0);
  const int64_t small = total / 2, large = total - small;
  return upper ? std::make_pair(small, large) : std::make_pair(large, small);
}

}  // namespace

Conv2d::Conv2d(const Conv2dOptions& options, const Conv2dPads& pads, const Shape& input_shape,
               const Shape& output_shape)
    : options_(options), pads_(pads), input_shape_(input_shape), output_shape_(output_shape) {
  const Shape wshape({options.out_channels, input_shape.dim(0) / options.groups,
                      options.kernel_h, options.kernel_w});
  weight_.value = Tensor(wshape);
  weight_.grad = Tensor(wshape);
  if (options.bias) {
    bias_.value = Tensor(Shape({options.out_channels}));
    bias_.grad = Tensor(Shape({options.out_channels}));
    bias_.weight_decay = false;
  }
  plan_ = PlanConv2d(KernelShape(1));
}

absl::StatusOr<std::unique_ptr<Conv2d>> Conv2d::Create(const Conv2dOptions& o,
                                                       const Shape& input_shape, Rng& rng) {
  if (input_shape.rank() != 3 || input_shape.dim(0) < 1 || input_shape.dim(1) < 1 ||
      input_shape.dim(2) < 1) {
    return Invalid(o, input_shape, "input_shape must be (C, H, W) with positive dims");
  }
  const int64_t c = input_shape.dim(0), h = input_shape.dim(1), w = input_shape.dim(2);
  if (o.out_channels < 1) return Invalid(o, input_shape, "out_channels must be >= 1");
  if (o.kernel_h < 1 || o.kernel_w < 1) {
    return Invalid(o, input_shape, "kernel_h and kernel_w must be >= 1");
  }
  if (o.stride_h < 1 || o.stride_w < 1) {
    return Invalid(o, input_shape, "stride_h and stride_w must be >= 1");
  }
  if (o.pad_h < 0 || o.pad_w < 0) return Invalid(o, input_shape, "pad_h and pad_w must be >= 0");
  if (o.padding != Conv2dPadding::kExplicit && (o.pad_h != 0 || o.pad_w != 0 || o.pads)) {
    return Invalid(o, input_shape,
                   absl::StrCat("padding ", PaddingName(o.padding),
                                " computes the pads: pad_h, pad_w and pads must not be set"));
  }
  if (o.pads && (o.pad_h != 0 || o.pad_w != 0)) {
    return Invalid(o, input_shape, "pads replaces pad_h and pad_w: set one or the other");
  }
  if (o.pads && (o.pads->top < 0 || o.pads->left < 0 || o.pads->bottom < 0 || o.pads->right < 0)) {
    return Invalid(o, input_shape, "pads (top, left, bottom, right) must be >= 0");
  }
  if (o.dilation_h < 1 || o.dilation_w < 1) {
    return Invalid(o, input_shape, "dilation_h and dilation_w must be >= 1");
  }
  if (o.groups < 1) return Invalid(o, input_shape, "groups must be >= 1");
  if (c % o.groups != 0) {
    return Invalid(o, input_shape,
                   absl::StrCat("groups ", o.groups, " must divide in_channels ", c));
  }
  if (o.out_channels % o.groups != 0) {
    return Invalid(o, input_shape,
                   absl::StrCat("groups ", o.groups, " must divide out_channels ",
                                o.out_channels));
  }
  // Guard the size arithmetic against absurd user values before multiplying.
  constexpr int64_t kMaxExtent = int64_t{1} << 30;
  if (o.kernel_h > kMaxExtent || o.kernel_w > kMaxExtent || o.dilation_h > kMaxExtent ||
      o.dilation_w > kMaxExtent || o.pad_h > kMaxExtent || o.pad_w > kMaxExtent ||
      o.out_channels > kMaxExtent || o.stride_h > kMaxExtent || o.stride_w > kMaxExtent ||
      (o.pads && (o.pads->top > kMaxExtent || o.pads->left > kMaxExtent ||
                  o.pads->bottom > kMaxExtent || o.pads->right > kMaxExtent))) {
    return Invalid(o, input_shape, "a kernel, stride, pad, dilation or channel value exceeds 2^30");
  }
  const int64_t eff_kh = o.dilation_h * (o.kernel_h - 1) + 1;
  const int64_t eff_kw = o.dilation_w * (o.kernel_w - 1) + 1;
  Conv2dPads pads{o.pad_h, o.pad_w, o.pad_h, o.pad_w};
  if (o.pads) pads = *o.pads;
  if (o.padding != Conv2dPadding::kExplicit) {
    const bool upper = o.padding == Conv2dPadding::kSameUpper;
    std::tie(pads.top, pads.bottom) = SamePads(h, o.stride_h, eff_kh, upper);
    std::tie(pads.left, pads.right) = SamePads(w, o.stride_w, eff_kw, upper);
  }
  const int64_t padded_h = h + pads.top + pads.bottom, padded_w = w + pads.left + pads.right;
  if (padded_h < eff_kh) {
    return Invalid(o, input_shape,
                   absl::StrCat("kernel_h: dilated kernel height ", eff_kh,
                                " exceeds padded input height ", padded_h));
  }
  if (padded_w < eff_kw) {
    return Invalid(o, input_shape,
                   absl::StrCat("kernel_w: dilated kernel width ", eff_kw,
                                " exceeds padded input width ", padded_w));
  }
  const int64_t oh = (padded_h - eff_kh) / o.stride_h + 1;
  const int64_t ow = (padded_w - eff_kw) / o.stride_w + 1;
  std::unique_ptr<Conv2d> layer(
      new Conv2d(o, pads, input_shape, Shape({o.out_channels, oh, ow})));
  const int64_t receptive = o.kernel_h * o.kernel_w;
  const int64_t fan_in = c / o.groups * receptive, fan_out = o.out_channels * receptive;
  absl::Status s = InitTensor(o.weight_init, fan_in, fan_out, rng, &layer->weight_.value);
  if (!s.ok()) return Invalid(o, input_shape, absl::StrCat("weight_init: ", s.message()));
  if (o.bias) {
    s = InitTensor(o.bias_init, fan_in, fan_out, rng, &layer->bias_.value);
    if (!s.ok()) return Invalid(o, input_shape, absl::StrCat("bias_init: ", s.message()));
  }
  return layer;
}

std::string Conv2d::Describe() const {
  const Conv2dOptions& o = options_;
  std::string s = absl::StrCat("Conv2d(", input_shape_.dim(0), ", ", o.out_channels,
                               ", k=", o.kernel_h, "x", o.kernel_w);
  if (o.stride_h != 1 || o.stride_w != 1) {
    absl::StrAppend(&s, ", s=", o.stride_h, o.stride_h == o.stride_w ? "" : "x",
                    o.stride_h == o.stride_w ? "" : absl::StrCat(o.stride_w));
  }
  if (o.padding != Conv2dPadding::kExplicit) {
    absl::StrAppend(&s, ", padding=", PaddingName(o.padding));
  } else if (o.pads) {
    absl::StrAppend(&s, ", p=(", o.pads->top, ",", o.pads->left, ",", o.pads->bottom, ",",
                    o.pads->right, ")");
  } else if (o.pad_h != 0 || o.pad_w != 0) {
    absl::StrAppend(&s, ", p=", o.pad_h, o.pad_h == o.pad_w ? "" : "x",
                    o.pad_h == o.pad_w ? "" : absl::StrCat(o.pad_w));
  }
  if (o.dilation_h != 1 || o.dilation_w != 1) {
    absl::StrAppend(&s, ", d=", o.dilation_h, o.dilation_h == o.dilation_w ? "" : "x",
                    o.dilation_h == o.dilation_w ? "" : absl::StrCat(o.dilation_w));
  }
  if (o.groups != 1) absl::StrAppend(&s, ", groups=", o.groups);
  if (!o.bias) absl::StrAppend(&s, ", bias=false");
  return s + ")";
}

int64_t Conv2d::ScratchBytes(int64_t batch) const {
  const int64_t lowered = input_shape_.dim(0) / options_.groups * options_.kernel_h *
                          options_.kernel_w * output_shape_.dim(1) * output_shape_.dim(2);
  const int64_t threads = static_cast<int64_t>(DefaultThreadCount());
  const Conv2dShape s = KernelShape(batch);
  // Asymmetric pads: padded_x_ and padded_dx_.
  const int64_t padded =
      Asymmetric() ? 2 * static_cast<int64_t>(s.batch * s.in_channels * s.in_h * s.in_w) : 0;
  return 4 * (lowered * std::min(batch, threads) + 2 * weight_.value.size() * threads + padded);
}

int64_t Conv2d::ForwardMultAdds() const { return weight_.value.size() * output_shape_.dim(1) * output_shape_.dim(2); }

std::vector<NamedParameter> Conv2d::Params() {
  NoteParametersChanged();
  std::vector<NamedParameter> params = {{"weight", &weight_}};
  if (options_.bias) params.push_back({"bias", &bias_});
  return params;
}

Conv2dShape Conv2d::KernelShape(int64_t n) const {
  const Conv2dOptions& o = options_;
  Conv2dShape s;
  s.batch = static_cast<size_t>(n);
  s.in_channels = static_cast<size_t>(input_shape_.dim(0));
  // The kernels pad min(top, bottom) rows on both sides; the excess of the larger side is in
  // padded_x_ (asymmetric pads only). Likewise for columns.
  const int64_t pad_h = std::min(pads_.top, pads_.bottom);
  const int64_t pad_w = std::min(pads_.left, pads_.right);
  s.in_h = static_cast<size_t>(input_shape_.dim(1) + pads_.top + pads_.bottom - 2 * pad_h);
  s.in_w = static_cast<size_t>(input_shape_.dim(2) + pads_.left + pads_.right - 2 * pad_w);
  s.out_channels = static_cast<size_t>(o.out_channels);
  s.kernel_h = static_cast<size_t>(o.kernel_h);
  s.kernel_w = static_cast<size_t>(o.kernel_w);
  s.stride_h = static_cast<size_t>(o.stride_h);
  s.stride_w = static_cast<size_t>(o.stride_w);
  s.pad_h = static_cast<size_t>(pad_h);
  s.pad_w = static_cast<size_t>(pad_w);
  s.dilation_h = static_cast<size_t>(o.dilation_h);
  s.dilation_w = static_cast<size_t>(o.dilation_w);
  s.groups = static_cast<size_t>(o.groups);
  return s;
}

void Conv2d::Forward(const Tensor& x, Tensor* y) {
  ForwardWith(x, weight_.value.data(), options_.bias ? bias_.value.data() : nullptr,
              ConvEpilogue::kNone, y);
}

void Conv2d::ForwardWith(const Tensor& x, const float* weight, const float* bias,
                         ConvEpilogue epilogue, Tensor* y) {
  SIMDNET_CHECK(x.rank() == 4 && x.dim(0) >= 1 && x.dim(1) == input_shape_.dim(0) &&
                x.dim(2) == input_shape_.dim(1) && x.dim(3) == input_shape_.dim(2));
  const int64_t n = x.dim(0);
  y->EnsureShape(Shape({n, output_shape_.dim(0), output_shape_.dim(1), output_shape_.dim(2)}));
  const Conv2dShape s = KernelShape(n);
  if (Asymmetric()) {
    // Copy x into the excess-padded scratch; the kernels add the symmetric part.
    const size_t c = s.in_channels, h = static_cast<size_t>(x.dim(2)),
                 w = static_cast<size_t>(x.dim(3));
    const size_t top = static_cast<size_t>(pads_.top) - s.pad_h;
    const size_t left = static_cast<size_t>(pads_.left) - s.pad_w;
    padded_x_.EnsureShape(Shape({n, x.dim(1), static_cast<int64_t>(s.in_h),
                                 static_cast<int64_t>(s.in_w)}));
    Fill(padded_x_.data(), static_cast<size_t>(padded_x_.size()), 0.0f);
    for (size_t plane = 0; plane < static_cast<size_t>(n) * c; ++plane) {
      for (size_t r = 0; r < h; ++r) {
        Copy(x.data() + (plane * h + r) * w,
             padded_x_.data() + (plane * s.in_h + top + r) * s.in_w + left, w);
      }
    }
    x_ = padded_x_;
  } else {
    x_ = x;
  }
  if (n != plan_batch_) {  // the plan depends on the batch size (PlanConv2d)
    plan_ = PlanConv2d(s);
    plan_batch_ = n;
  }
  Conv2dForward(plan_, s, x_.data(), weight, bias, y->data(), epilogue, DefaultThreadPool());
  x_ = KeptForBackward(x_);
}

void Conv2d::Backward(const Tensor& dy, Tensor* dx) {
  const int64_t n = x_.dim(0);
  SIMDNET_CHECK(dy.rank() == 4 && dy.dim(0) == n && dy.dim(1) == output_shape_.dim(0) &&
                dy.dim(2) == output_shape_.dim(1) && dy.dim(3) == output_shape_.dim(2));
  dx->EnsureShape(Shape({n, input_shape_.dim(0), input_shape_.dim(1), input_shape_.dim(2)}));
  const Conv2dShape s = KernelShape(n);
  ThreadPool& pool = DefaultThreadPool();
  if (Asymmetric()) {
    // dx of the padded copy, then crop the excess padding away.
    padded_dx_.EnsureShape(x_.shape());
    Conv2dBackwardData(plan_, s, dy.data(), weight_.value.data(), padded_dx_.data(), pool);
    const size_t c = s.in_channels, h = static_cast<size_t>(input_shape_.dim(1)),
                 w = static_cast<size_t>(input_shape_.dim(2));
    const size_t top = static_cast<size_t>(pads_.top) - s.pad_h;
    const size_t left = static_cast<size_t>(pads_.left) - s.pad_w;
    for (size_t plane = 0; plane < static_cast<size_t>(n) * c; ++plane) {
      for (size_t r = 0; r < h; ++r) {
        Copy(padded_dx_.data() + (plane * s.in_h + top + r) * s.in_w + left,
             dx->data() + (plane * h + r) * w, w);
      }
    }
  } else if (Learns(weight_)) {
    // Both gradients in one pass where the kernels fuse them (depthwise: x and dy read once).
    float* dbias = options_.bias && Learns(bias_) ? bias_.grad.data() : nullptr;
    Conv2dBackwardDataAndWeights(plan_, s, x_.data(), dy.data(), weight_.value.data(),
                                 dx->data(), weight_.grad.data(), dbias, pool);
    return;
  } else {
    Conv2dBackwardData(plan_, s, dy.data(), weight_.value.data(), dx->data(), pool);
  }
  BackwardParamsOnly(dy, dx);
}

void Conv2d::BackwardParamsOnly(const Tensor& dy, Tensor* /*dx*/) {
  const int64_t n = x_.dim(0);
  SIMDNET_CHECK(dy.rank() == 4 && dy.dim(0) == n);
  const Conv2dShape s = KernelShape(n);
  ThreadPool& pool = DefaultThreadPool();
  const bool bias_trainable = options_.bias && Learns(bias_);
  float* dbias = bias_trainable ? bias_.grad.data() : nullptr;
  if (Learns(weight_)) {
    Conv2dBackwardWeights(plan_, s, x_.data(), dy.data(), weight_.grad.data(), dbias, pool);
  } else if (bias_trainable) {
    // Only the bias learns (e.g. a frozen backbone with a trainable bias): let the kernel
    // accumulate the weight gradient into a scratch buffer that is discarded.
    scratch_weight_.EnsureShape(weight_.value.shape());
    Fill(scratch_weight_.data(), static_cast<size_t>(scratch_weight_.size()), 0.0f);
    Conv2dBackwardWeights(plan_, s, x_.data(), dy.data(), scratch_weight_.data(), dbias, pool);
  }
}

}  // namespace simdnet
