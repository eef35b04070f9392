// Pool2d and GlobalAvgPool2d: option validation and dispatch to the pooling and reduction
// kernels.
#include "layers/pooling.h"

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

}  // namespace

absl::StatusOr<std::unique_ptr<Pool2d>> Pool2d::Create(const Pool2dOptions& options_in,
                                                       const Shape& in) {
  Pool2dOptions o = options_in;
  const char* name = o.kind == PoolKind::kMax ? "MaxPool2d" : "AvgPool2d";
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
  struct Field {
    const char* what;
    int64_t value;
    int64_t min;
  };
  for (const Field& f : {Field{"kernel_h", o.kernel_h, 1}, Field{"kernel_w", o.kernel_w, 1},
                         Field{"stride_h", o.stride_h, 1}, Field{"stride_w", o.stride_w, 1},
                         Field{"pad_h", o.pad_h, 0}, Field{"pad_w", o.pad_w, 0}}) {
    if (f.value < f.min || f.value > kMaxPoolDim) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", f.what, " = ", f.value,
                                                     " is out of range [", f.min, ", ",
                                                     kMaxPoolDim, "] (input_shape ",
                                                     in.ToString(), ")"));
    }
  }
  if (2 * o.pad_h > o.kernel_h || 2 * o.pad_w > o.kernel_w) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": pad (", o.pad_h, ", ", o.pad_w,
                     ") must be at most half the kernel (", o.kernel_h, ", ", o.kernel_w, ")"));
  }
  if (in.dim(1) + 2 * o.pad_h < o.kernel_h || in.dim(2) + 2 * o.pad_w < o.kernel_w) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": kernel (", o.kernel_h, ", ", o.kernel_w, ") is larger than the padded input ",
        "plane of input_shape ", in.ToString(), " with pad (", o.pad_h, ", ", o.pad_w, ")"));
  }
  const int64_t out_h = (in.dim(1) + 2 * o.pad_h - o.kernel_h) / o.stride_h + 1;
  const int64_t out_w = (in.dim(2) + 2 * o.pad_w - o.kernel_w) / o.stride_w + 1;
  return std::unique_ptr<Pool2d>(new Pool2d(o, in, Shape({in.dim(0), out_h, out_w})));
}

std::string Pool2d::Describe() const {
  const Pool2dOptions& o = options_;
  std::string s = absl::StrCat(o.kind == PoolKind::kMax ? "MaxPool2d" : "AvgPool2d", "(k=",
                               o.kernel_h);
  if (o.kernel_w != o.kernel_h) absl::StrAppend(&s, "x", o.kernel_w);
  absl::StrAppend(&s, ", s=", o.stride_h);
  if (o.stride_w != o.stride_h) absl::StrAppend(&s, "x", o.stride_w);
  if (o.pad_h != 0 || o.pad_w != 0) {
    absl::StrAppend(&s, ", p=", o.pad_h);
    if (o.pad_w != o.pad_h) absl::StrAppend(&s, "x", o.pad_w);
  }
  if (o.kind == PoolKind::kAvg && !o.count_include_pad) {
    absl::StrAppend(&s, ", count_include_pad=false");
  }
  return s + ")";
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

void Pool2d::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == 4 && x.dim(1) == input_shape_.dim(0) &&
                x.dim(2) == input_shape_.dim(1) && x.dim(3) == input_shape_.dim(2));
  batch_ = x.dim(0);
  y->EnsureShape(Shape({batch_, output_shape_.dim(0), output_shape_.dim(1), output_shape_.dim(2)}));
  const Pool2dShape s = KernelShape(batch_);
  if (options_.kind == PoolKind::kMax) {
    argmax_.resize(static_cast<size_t>(y->size()));
    MaxPool2dForward(s, x.data(), y->data(), argmax_.data(), DefaultThreadPool());
  } else {
    AvgPool2dForward(s, x.data(), y->data(), options_.count_include_pad, DefaultThreadPool());
  }
}

void Pool2d::Backward(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(dy.rank() == 4 && dy.dim(0) == batch_ && dy.dim(1) == output_shape_.dim(0) &&
                dy.dim(2) == output_shape_.dim(1) && dy.dim(3) == output_shape_.dim(2));
  dx->EnsureShape(Shape({batch_, input_shape_.dim(0), input_shape_.dim(1), input_shape_.dim(2)}));
  const Pool2dShape s = KernelShape(batch_);
  if (options_.kind == PoolKind::kMax) {
    MaxPool2dBackward(s, dy.data(), argmax_.data(), dx->data(), DefaultThreadPool());
  } else {
    AvgPool2dBackward(s, dy.data(), dx->data(), options_.count_include_pad, DefaultThreadPool());
  }
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
