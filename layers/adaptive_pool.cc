// AdaptiveAvgPool2d: shape checks and the plain (scalar) kernels. These layers sit once per
// network on a small final feature map (or are copies at the native 224x224 size), so they are
// not worth SIMD code.
#include "layers/adaptive_pool.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

// Runs fn(plane) for each plane, in parallel blocks of planes on `pool`.
template <class Fn>
void ForEachPlane(size_t planes, ThreadPool* pool, const Fn& fn) {
  if (pool == nullptr || pool->NumThreads() <= 1 || planes < 2) {
    for (size_t p = 0; p < planes; ++p) fn(p);
    return;
  }
  const uint64_t tasks = std::min<uint64_t>(planes, 4 * pool->NumThreads());
  pool->ParallelFor(tasks, [&](uint64_t task, size_t) {
    const size_t begin = static_cast<size_t>(task * planes / tasks);
    const size_t end = static_cast<size_t>((task + 1) * planes / tasks);
    for (size_t p = begin; p < end; ++p) fn(p);
  });
}

}  // namespace

void AdaptiveAvgPoolForward(const float* x, float* y, const AdaptivePoolShape& s,
                            ThreadPool* pool) {
  const size_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  ForEachPlane(s.planes, pool, [&](size_t p) {
    const float* xp = x + p * in_plane;
    float* yp = y + p * out_plane;
    for (size_t i = 0; i < s.out_h; ++i) {
      const size_t h0 = AdaptiveStart(i, s.in_h, s.out_h), h1 = AdaptiveEnd(i, s.in_h, s.out_h);
      for (size_t j = 0; j < s.out_w; ++j) {
        const size_t w0 = AdaptiveStart(j, s.in_w, s.out_w);
        const size_t w1 = AdaptiveEnd(j, s.in_w, s.out_w);
        float sum = 0.0f;
        for (size_t h = h0; h < h1; ++h) {
          for (size_t w = w0; w < w1; ++w) sum += xp[h * s.in_w + w];
        }
        yp[i * s.out_w + j] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
      }
    }
  });
}

void AdaptiveAvgPoolBackward(const float* dy, float* dx, const AdaptivePoolShape& s,
                             ThreadPool* pool) {
  const size_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  ForEachPlane(s.planes, pool, [&](size_t p) {
    float* dxp = dx + p * in_plane;
    const float* dyp = dy + p * out_plane;
    std::fill(dxp, dxp + in_plane, 0.0f);
    for (size_t i = 0; i < s.out_h; ++i) {
      const size_t h0 = AdaptiveStart(i, s.in_h, s.out_h), h1 = AdaptiveEnd(i, s.in_h, s.out_h);
      for (size_t j = 0; j < s.out_w; ++j) {
        const size_t w0 = AdaptiveStart(j, s.in_w, s.out_w);
        const size_t w1 = AdaptiveEnd(j, s.in_w, s.out_w);
        const float g = dyp[i * s.out_w + j] / static_cast<float>((h1 - h0) * (w1 - w0));
        for (size_t h = h0; h < h1; ++h) {
          for (size_t w = w0; w < w1; ++w) dxp[h * s.in_w + w] += g;
        }
      }
    }
  });
}

absl::StatusOr<std::unique_ptr<AdaptiveAvgPool2d>> AdaptiveAvgPool2d::Create(
    const AdaptiveAvgPool2dOptions& options, const Shape& input_shape) {
  if (input_shape.rank() != 3 || input_shape.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("AdaptiveAvgPool2d: input_shape ", input_shape.ToString(),
                     " must be (C, H, W) with no zero dim"));
  }
  constexpr int64_t kMaxOut = 65536;
  if (options.out_h < 1 || options.out_h > kMaxOut || options.out_w < 1 ||
      options.out_w > kMaxOut) {
    return absl::InvalidArgumentError(
        absl::StrCat("AdaptiveAvgPool2d: output size ", options.out_h, "x", options.out_w,
                     " must be in [1, ", kMaxOut, "] (input shape ", input_shape.ToString(),
                     ")"));
  }
  return std::unique_ptr<AdaptiveAvgPool2d>(new AdaptiveAvgPool2d(
      options, input_shape, Shape({input_shape.dim(0), options.out_h, options.out_w})));
}

std::string AdaptiveAvgPool2d::Describe() const {
  return absl::StrCat("AdaptiveAvgPool2d(output_size=(", options_.out_h, ", ", options_.out_w,
                      "))");
}

AdaptivePoolShape AdaptiveAvgPool2d::KernelShape(int64_t batch) const {
  AdaptivePoolShape s;
  s.planes = static_cast<size_t>(batch * input_shape_.dim(0));
  s.in_h = static_cast<size_t>(input_shape_.dim(1));
  s.in_w = static_cast<size_t>(input_shape_.dim(2));
  s.out_h = static_cast<size_t>(options_.out_h);
  s.out_w = static_cast<size_t>(options_.out_w);
  return s;
}

void AdaptiveAvgPool2d::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == 4 && x.dim(1) == input_shape_.dim(0) &&
                x.dim(2) == input_shape_.dim(1) && x.dim(3) == input_shape_.dim(2));
  const int64_t n = x.dim(0);
  y->EnsureShape(Shape({n, output_shape_.dim(0), output_shape_.dim(1), output_shape_.dim(2)}));
  ThreadPool* pool = &DefaultThreadPool();
  if (input_shape_ == output_shape_) {
    Copy(x.data(), y->data(), static_cast<size_t>(x.size()), pool);
    return;
  }
  AdaptiveAvgPoolForward(x.data(), y->data(), KernelShape(n), pool);
}

void AdaptiveAvgPool2d::Backward(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(dy.rank() == 4 && dy.dim(1) == output_shape_.dim(0) &&
                dy.dim(2) == output_shape_.dim(1) && dy.dim(3) == output_shape_.dim(2));
  const int64_t n = dy.dim(0);
  dx->EnsureShape(Shape({n, input_shape_.dim(0), input_shape_.dim(1), input_shape_.dim(2)}));
  ThreadPool* pool = &DefaultThreadPool();
  if (input_shape_ == output_shape_) {
    Copy(dy.data(), dx->data(), static_cast<size_t>(dy.size()), pool);
    return;
  }
  AdaptiveAvgPoolBackward(dy.data(), dx->data(), KernelShape(n), pool);
}

}  // namespace simdnet
