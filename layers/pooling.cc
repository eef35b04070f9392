// Pool2d and GlobalAvgPool2d: option validation and dispatch to the pooling and reduction
// kernels.
#include "layers/pooling.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/reduce.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {


// Largest per-sample size accepted for any pooling dimension; keeps index arithmetic
// (int32 argmax of h * in_w + w) exact.
constexpr int64_t kMaxPoolDim = int64_t{1} << 15;

// Resolves the pads of one axis under ONNX auto_pad SAME_UPPER / SAME_LOWER.
void SamePads(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, bool lower,
              int64_t* begin, int64_t* end) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + dilation * (kernel - 1) + 1 - in, 0);
  *begin = lower ? total - total / 2 : total / 2;
  *end = total - *begin;
}

// Returns the output size of one axis (floor, or ceil with PyTorch's last-window rule).
// Requires: in + begin + end >= dilation * (kernel - 1) + 1.
int64_t PooledSize(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t begin,
                   int64_t end, bool ceil_mode) {
  const int64_t span = in + begin + end - dilation * (kernel - 1) - 1;
  if (!ceil_mode) return span / stride + 1;
  int64_t out = (span + stride - 1) / stride + 1;
  if ((out - 1) * stride >= in + begin) --out;  // the last window would start in the end pad
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Pool2d>> Pool2d::Create(const Pool2dOptions& options_in,
                                                       const Shape& in) {
  Pool2dOptions o = options_in;
  const bool max = o.kind == PoolKind::kMax;
  const char* name = max ? "MaxPool2d" : "AvgPool2d";
  if (in.rank() != 3 || in.size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": input_shape must be (C, H, W) with no zero dim, got ", in.ToString()));
  }
  if (in.dim(1) > kMaxPoolDim || in.dim(2) > kMaxPoolDim) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": input_shape ", in.ToString(),
                                                   " has a plane larger than ", kMaxPoolDim));
  }
  if (o.stride_h == 0) o.stride_h = o.kernel_h;
  if (o.stride_w == 0) o.stride_w = o.kernel_w;
  const bool auto_pad = o.auto_pad != PoolAutoPad::kNotSet;
  if (auto_pad && (o.pad_h != 0 || o.pad_w != 0 || o.pad_bottom || o.pad_right)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": auto_pad (same) excludes explicit pads, got pad_h = ", o.pad_h,
        ", pad_w = ", o.pad_w, o.pad_bottom ? absl::StrCat(", pad_bottom = ", *o.pad_bottom) : "",
        o.pad_right ? absl::StrCat(", pad_right = ", *o.pad_right) : ""));
  }
  if (!max && (o.dilation_h != 1 || o.dilation_w != 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": dilation (", o.dilation_h, ", ", o.dilation_w,
        ") must be 1: average pooling has no dilation (as PyTorch's avg_pool2d)"));
  }
  if (max && o.divisor_override != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": divisor_override = ", o.divisor_override, " applies to average pooling only"));
  }
  const int64_t pad_bottom = o.pad_bottom.value_or(o.pad_h);
  const int64_t pad_right = o.pad_right.value_or(o.pad_w);
  struct Field {
    const char* what;
    int64_t value;
    int64_t min;
  };
  for (const Field& f :
       {Field{"kernel_h", o.kernel_h, 1}, Field{"kernel_w", o.kernel_w, 1},
        Field{"stride_h", o.stride_h, 1}, Field{"stride_w", o.stride_w, 1},
        Field{"pad_h", o.pad_h, 0}, Field{"pad_w", o.pad_w, 0},
        Field{"pad_bottom", pad_bottom, 0}, Field{"pad_right", pad_right, 0},
        Field{"dilation_h", o.dilation_h, 1}, Field{"dilation_w", o.dilation_w, 1},
        Field{"divisor_override", o.divisor_override, 0}}) {
    if (f.value < f.min || f.value > kMaxPoolDim) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", f.what, " = ", f.value,
                                                     " is out of range [", f.min, ", ",
                                                     kMaxPoolDim, "] (input_shape ",
                                                     in.ToString(), ")"));
    }
  }
  // PyTorch's rule (on the undilated kernel): "pad should be at most half of kernel size".
  for (const Field& f : {Field{"pad_h", o.pad_h, o.kernel_h}, Field{"pad_w", o.pad_w, o.kernel_w},
                         Field{"pad_bottom", pad_bottom, o.kernel_h},
                         Field{"pad_right", pad_right, o.kernel_w}}) {
    if (2 * f.value > f.min) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": ", f.what, " = ", f.value, " must be at most half the kernel (",
                       o.kernel_h, ", ", o.kernel_w, ")"));
    }
  }
  if (auto_pad) {
    const bool lower = o.auto_pad == PoolAutoPad::kSameLower;
    int64_t bottom = 0, right = 0;
    SamePads(in.dim(1), o.kernel_h, o.stride_h, o.dilation_h, lower, &o.pad_h, &bottom);
    SamePads(in.dim(2), o.kernel_w, o.stride_w, o.dilation_w, lower, &o.pad_w, &right);
    o.pad_bottom = bottom;
    o.pad_right = right;
    o.auto_pad = PoolAutoPad::kNotSet;
  } else {
    o.pad_bottom = pad_bottom;
    o.pad_right = pad_right;
  }
  const int64_t span_h = o.dilation_h * (o.kernel_h - 1) + 1;
  const int64_t span_w = o.dilation_w * (o.kernel_w - 1) + 1;
  if (in.dim(1) + o.pad_h + *o.pad_bottom < span_h ||
      in.dim(2) + o.pad_w + *o.pad_right < span_w) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": kernel (", o.kernel_h, ", ", o.kernel_w, ") with dilation (", o.dilation_h,
        ", ", o.dilation_w, ") is larger than the padded input plane of input_shape ",
        in.ToString(), " with pads (top, left, bottom, right) = (", o.pad_h, ", ", o.pad_w, ", ",
        *o.pad_bottom, ", ", *o.pad_right, ")"));
  }
  const int64_t out_h = PooledSize(in.dim(1), o.kernel_h, o.stride_h, o.dilation_h, o.pad_h,
                                   *o.pad_bottom, o.ceil_mode);
  const int64_t out_w = PooledSize(in.dim(2), o.kernel_w, o.stride_w, o.dilation_w, o.pad_w,
                                   *o.pad_right, o.ceil_mode);
  return std::unique_ptr<Pool2d>(new Pool2d(o, in, Shape({in.dim(0), out_h, out_w})));
}

std::string Pool2d::Describe() const {
  const Pool2dOptions& o = options_;
  std::string s = absl::StrCat(o.kind == PoolKind::kMax ? "MaxPool2d" : "AvgPool2d", "(k=",
                               o.kernel_h);
  if (o.kernel_w != o.kernel_h) absl::StrAppend(&s, "x", o.kernel_w);
  absl::StrAppend(&s, ", s=", o.stride_h);
  if (o.stride_w != o.stride_h) absl::StrAppend(&s, "x", o.stride_w);
  if (*o.pad_bottom != o.pad_h || *o.pad_right != o.pad_w) {
    absl::StrAppend(&s, ", pad=", o.pad_h, ",", o.pad_w, ",", *o.pad_bottom, ",", *o.pad_right);
  } else if (o.pad_h != 0 || o.pad_w != 0) {
    absl::StrAppend(&s, ", p=", o.pad_h);
    if (o.pad_w != o.pad_h) absl::StrAppend(&s, "x", o.pad_w);
  }
  if (o.dilation_h != 1 || o.dilation_w != 1) {
    absl::StrAppend(&s, ", d=", o.dilation_h);
    if (o.dilation_w != o.dilation_h) absl::StrAppend(&s, "x", o.dilation_w);
  }
  if (o.ceil_mode) absl::StrAppend(&s, ", ceil_mode=true");
  if (o.kind == PoolKind::kAvg && !o.count_include_pad) {
    absl::StrAppend(&s, ", count_include_pad=false");
  }
  if (o.divisor_override != 0) absl::StrAppend(&s, ", divisor_override=", o.divisor_override);
  return s + ")";
}

bool Pool2d::UsesSimdKernels() const {
  const Pool2dOptions& o = options_;
  const Pool2dShape s = KernelShape(1);
  return *o.pad_bottom == o.pad_h && *o.pad_right == o.pad_w && o.dilation_h == 1 &&
         o.dilation_w == 1 && o.divisor_override == 0 &&
         static_cast<int64_t>(s.out_h()) == output_shape_.dim(1) &&
         static_cast<int64_t>(s.out_w()) == output_shape_.dim(2);
}

Pool2dShape Pool2d::KernelShape(int64_t batch) const {
  Pool2dShape s;
  s.batch = static_cast<size_t>(batch);
  s.channels = static_cast<size_t>(input_shape_.dim(0));
  s.in_h = static_cast<size_t>(input_shape_.dim(1));
  s.in_w = static_cast<size_t>(input_shape_.dim(2));
  s.kernel_h = static_cast<size_t>(options_.kernel_h);
  s.kernel_w = static_cast<size_t>(options_.kernel_w);
  s.stride_h = static_cast<size_t>(options_.stride_h);
  s.stride_w = static_cast<size_t>(options_.stride_w);
  s.pad_h = static_cast<size_t>(options_.pad_h);
  s.pad_w = static_cast<size_t>(options_.pad_w);
  return s;
}

Pool2dGeometry Pool2d::Geometry(int64_t batch) const {
  const Pool2dShape s = KernelShape(batch);
  Pool2dGeometry g;
  g.batch = s.batch;
  g.channels = s.channels;
  g.in_h = s.in_h;
  g.in_w = s.in_w;
  g.kernel_h = s.kernel_h;
  g.kernel_w = s.kernel_w;
  g.stride_h = s.stride_h;
  g.stride_w = s.stride_w;
  g.dilation_h = static_cast<size_t>(options_.dilation_h);
  g.dilation_w = static_cast<size_t>(options_.dilation_w);
  g.pad_top = s.pad_h;
  g.pad_left = s.pad_w;
  g.pad_bottom = static_cast<size_t>(*options_.pad_bottom);
  g.pad_right = static_cast<size_t>(*options_.pad_right);
  g.out_h = static_cast<size_t>(output_shape_.dim(1));
  g.out_w = static_cast<size_t>(output_shape_.dim(2));
  return g;
}

bool Pool2d::IsMaxPool2x2() const {
  const Pool2dOptions& o = options_;
  return o.kind == PoolKind::kMax && o.kernel_h == 2 && o.kernel_w == 2 && o.stride_h == 2 &&
         o.stride_w == 2 && o.pad_h == 0 && o.pad_w == 0 && *o.pad_bottom == 0 &&
         *o.pad_right == 0 && o.dilation_h == 1 && o.dilation_w == 1 &&
         output_shape_.dim(1) == input_shape_.dim(1) / 2 &&
         output_shape_.dim(2) == input_shape_.dim(2) / 2;
}

int32_t* Pool2d::ArgmaxForFusedForward(int64_t batch) {
  SIMDNET_CHECK(IsMaxPool2x2() && batch >= 1);
  batch_ = batch;
  argmax_.resize(static_cast<size_t>(batch * output_shape_.size()));
  return argmax_.data();
}

void Pool2d::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == 4 && x.dim(1) == input_shape_.dim(0) &&
                x.dim(2) == input_shape_.dim(1) && x.dim(3) == input_shape_.dim(2));
  batch_ = x.dim(0);
  y->EnsureShape(Shape({batch_, output_shape_.dim(0), output_shape_.dim(1), output_shape_.dim(2)}));
  const bool max = options_.kind == PoolKind::kMax;
  // Inside an InferenceScope no Backward follows: the argmax is only computed for a paired
  // MaxUnpool2d (inference pooling without it skips the index bookkeeping and stores).
  int32_t* argmax = nullptr;
  if (max && (InferencePool() == nullptr || indices_read_)) {
    argmax_.resize(static_cast<size_t>(y->size()));
    argmax = argmax_.data();
  }
  if (!UsesSimdKernels()) {
    const Pool2dGeometry g = Geometry(batch_);
    if (max) {
      MaxPool2dForwardGeneral(g, x.data(), y->data(), argmax);
    } else {
      AvgPool2dForwardGeneral(g, x.data(), y->data(), options_.count_include_pad,
                              options_.divisor_override);
    }
    return;
  }
  const Pool2dShape s = KernelShape(batch_);
  if (max) {
    MaxPool2dForward(s, x.data(), y->data(), argmax, DefaultThreadPool());
  } else {
    AvgPool2dForward(s, x.data(), y->data(), options_.count_include_pad, DefaultThreadPool());
  }
}

void Pool2d::Backward(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(dy.rank() == 4 && dy.dim(0) == batch_ && dy.dim(1) == output_shape_.dim(0) &&
                dy.dim(2) == output_shape_.dim(1) && dy.dim(3) == output_shape_.dim(2));
  dx->EnsureShape(Shape({batch_, input_shape_.dim(0), input_shape_.dim(1), input_shape_.dim(2)}));
  if (!UsesSimdKernels()) {
    const Pool2dGeometry g = Geometry(batch_);
    if (options_.kind == PoolKind::kMax) {
      MaxPool2dBackwardGeneral(g, dy.data(), argmax_.data(), dx->data());
    } else {
      AvgPool2dBackwardGeneral(g, dy.data(), dx->data(), options_.count_include_pad,
                               options_.divisor_override);
    }
    return;
  }
  const Pool2dShape s = KernelShape(batch_);
  if (options_.kind == PoolKind::kMax) {
    MaxPool2dBackward(s, dy.data(), argmax_.data(), dx->data(), DefaultThreadPool());
  } else {
    AvgPool2dBackward(s, dy.data(), dx->data(), options_.count_include_pad, DefaultThreadPool());
  }
}

absl::StatusOr<std::unique_ptr<MaxUnpool2d>> MaxUnpool2d::Create(const Pool2d* pool,
                                                                  const Shape& in) {
  if (pool == nullptr || pool->options().kind != PoolKind::kMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MaxUnpool2d: needs a paired max pooling layer, got ",
        pool == nullptr ? std::string("none") : pool->Describe()));
  }
  if (in != pool->OutputShape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MaxUnpool2d: input_shape ", in.ToString(), " differs from the output shape ",
        pool->OutputShape().ToString(), " of its paired ", pool->Describe()));
  }
  pool->indices_read_ = true;
  return std::unique_ptr<MaxUnpool2d>(new MaxUnpool2d(pool));
}

std::string MaxUnpool2d::Describe() const {
  return absl::StrCat("MaxUnpool2d(of ", pool_->Describe(), ")");
}

void MaxUnpool2d::Forward(const Tensor& x, Tensor* y) {
  const Shape& in = InputShape();
  const Shape& out = OutputShape();
  SIMDNET_CHECK(x.rank() == 4 && x.dim(1) == in.dim(0) && x.dim(2) == in.dim(1) &&
                x.dim(3) == in.dim(2));
  SIMDNET_CHECK(pool_->indices().size() == static_cast<size_t>(x.size()));
  y->EnsureShape(Shape({x.dim(0), out.dim(0), out.dim(1), out.dim(2)}));
  MaxUnpool2dForward(static_cast<size_t>(x.dim(0) * in.dim(0)),
                     static_cast<size_t>(in.SizeOf(1, 3)), static_cast<size_t>(out.SizeOf(1, 3)),
                     pool_->indices().data(), x.data(), y->data());
}

void MaxUnpool2d::Backward(const Tensor& dy, Tensor* dx) {
  const Shape& in = InputShape();
  const Shape& out = OutputShape();
  SIMDNET_CHECK(dy.rank() == 4 && dy.dim(1) == out.dim(0) && dy.dim(2) == out.dim(1) &&
                dy.dim(3) == out.dim(2));
  const int64_t batch = dy.dim(0);
  SIMDNET_CHECK(pool_->indices().size() == static_cast<size_t>(batch * in.size()));
  dx->EnsureShape(Shape({batch, in.dim(0), in.dim(1), in.dim(2)}));
  MaxUnpool2dBackward(static_cast<size_t>(batch * in.dim(0)),
                      static_cast<size_t>(in.SizeOf(1, 3)), static_cast<size_t>(out.SizeOf(1, 3)),
                      pool_->indices().data(), dy.data(), dx->data());
}

absl::StatusOr<std::unique_ptr<GlobalAvgPool2d>> GlobalAvgPool2d::Create(const Shape& in) {
  if (in.rank() != 3 || in.size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GlobalAvgPool2d: input_shape must be (C, H, W) with no zero dim, got ", in.ToString()));
  }
  return std::unique_ptr<GlobalAvgPool2d>(new GlobalAvgPool2d(in));
}

void GlobalAvgPool2d::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == 4 && x.dim(1) == input_shape_.dim(0) &&
                x.dim(2) == input_shape_.dim(1) && x.dim(3) == input_shape_.dim(2));
  y->EnsureShape(Shape({x.dim(0), input_shape_.dim(0)}));
  // Each (n, c) plane is one row of an (N*C, H*W, 1) array reduced over its middle axis.
  MeanAxis(x.data(), static_cast<size_t>(x.dim(0) * input_shape_.dim(0)),
           static_cast<size_t>(input_shape_.SizeOf(1, 3)), 1, y->data());
}

void GlobalAvgPool2d::Backward(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(dy.rank() == 2 && dy.dim(1) == input_shape_.dim(0));
  const int64_t batch = dy.dim(0);
  dx->EnsureShape(Shape({batch, input_shape_.dim(0), input_shape_.dim(1), input_shape_.dim(2)}));
  const size_t plane = static_cast<size_t>(input_shape_.SizeOf(1, 3));
  const float inv = 1.0f / static_cast<float>(plane);
  // Broadcast dy / (H * W) over each (n, c) plane (memory-bound; serial is fast enough).
  for (int64_t p = 0; p < dy.size(); ++p) {
    Fill(dx->data() + static_cast<size_t>(p) * plane, plane, dy[p] * inv);
  }
}

}  // namespace simdnet
