// Activation layer: shape checks and dispatch to the tensor/elementwise.h kernels.
#include "layers/activation.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "layers/clamp_kernels.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

// Returns (n, ...per_sample).
Shape WithBatch(int64_t n, const Shape& per_sample) {
  int64_t dims[Shape::kMaxRank];
  dims[0] = n;
  for (int i = 0; i < per_sample.rank(); ++i) dims[i + 1] = per_sample.dim(i);
  return Shape(absl::Span<const int64_t>(dims, static_cast<size_t>(per_sample.rank() + 1)));
}


}  // namespace

const char* ActivationKindName(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kRelu:
      return "relu";
    case ActivationKind::kLeakyRelu:
      return "leaky_relu";
    case ActivationKind::kTanh:
      return "tanh";
    case ActivationKind::kSigmoid:
      return "sigmoid";
    case ActivationKind::kRelu6:
      return "relu6";
  }
  return "unknown";
}

absl::StatusOr<ActivationKind> ParseActivationKind(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "relu") return ActivationKind::kRelu;
  if (lower == "leaky_relu" || lower == "lrelu" || lower == "leakyrelu") {
    return ActivationKind::kLeakyRelu;
  }
  if (lower == "tanh") return ActivationKind::kTanh;
  if (lower == "sigmoid") return ActivationKind::kSigmoid;
  if (lower == "relu6") return ActivationKind::kRelu6;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown activation '", name,
                   "' (expected relu, leaky_relu, tanh, sigmoid or relu6)"));
}

absl::StatusOr<std::unique_ptr<Activation>> Activation::Create(const ActivationOptions& options,
                                                               const Shape& input_shape) {
  if (input_shape.rank() == 0 || input_shape.rank() >= Shape::kMaxRank ||
      input_shape.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Activation(", ActivationKindName(options.kind), "): input_shape ",
                     input_shape.ToString(), " must have rank 1..", Shape::kMaxRank - 1,
                     " and at least one element"));
  }
  if (!std::isfinite(options.negative_slope)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Activation(leaky_relu): negative_slope must be finite, got ", options.negative_slope));
  }
  return std::unique_ptr<Activation>(new Activation(options, input_shape));
}

std::string Activation::Describe() const {
  switch (options_.kind) {
    case ActivationKind::kRelu:
      return "ReLU()";
    case ActivationKind::kLeakyRelu:
      return absl::StrCat("LeakyReLU(negative_slope=", options_.negative_slope, ")");
    case ActivationKind::kTanh:
      return "Tanh()";
    case ActivationKind::kSigmoid:
      return "Sigmoid()";
    case ActivationKind::kRelu6:
      return "ReLU6()";
  }
  return "Activation()";
}

void Activation::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == shape_.rank() + 1 && x.shape() == WithBatch(x.dim(0), shape_));
  y->EnsureShape(x.shape());
  const size_t n = static_cast<size_t>(x.size());
  ThreadPool* pool = &DefaultThreadPool();
  switch (options_.kind) {
    case ActivationKind::kRelu:
      ReluForward(x.data(), y->data(), n, pool);
      x_ = KeptForBackward(x);
      break;
    case ActivationKind::kLeakyRelu:
      LeakyReluForward(x.data(), options_.negative_slope, y->data(), n, pool);
      x_ = KeptForBackward(x);
      break;
    case ActivationKind::kTanh:
      TanhForward(x.data(), y->data(), n, pool);
      if (InferencePool() != nullptr) break;  // no Backward follows
      y_.EnsureShape(x.shape());
      Copy(y->data(), y_.data(), n, pool);
      break;
    case ActivationKind::kSigmoid:
      SigmoidForward(x.data(), y->data(), n, pool);
      if (InferencePool() != nullptr) break;  // no Backward follows
      y_.EnsureShape(x.shape());
      Copy(y->data(), y_.data(), n, pool);
      break;
    case ActivationKind::kRelu6:
      ClampForward(x.data(), 0.0f, 6.0f, y->data(), n, pool);
      x_ = KeptForBackward(x);
      break;
  }
}

void Activation::Backward(const Tensor& dy, Tensor* dx) {
  const bool uses_x = options_.kind == ActivationKind::kRelu ||
                      options_.kind == ActivationKind::kLeakyRelu ||
                      options_.kind == ActivationKind::kRelu6;
  const Tensor& cached = uses_x ? x_ : y_;
  SIMDNET_CHECK(dy.shape() == cached.shape());
  dx->EnsureShape(dy.shape());
  const size_t n = static_cast<size_t>(dy.size());
  ThreadPool* pool = &DefaultThreadPool();
  switch (options_.kind) {
    case ActivationKind::kRelu:
      ReluBackward(x_.data(), dy.data(), dx->data(), n, pool);
      break;
    case ActivationKind::kLeakyRelu:
      LeakyReluBackward(x_.data(), options_.negative_slope, dy.data(), dx->data(), n, pool);
      break;
    case ActivationKind::kTanh:
      TanhBackward(y_.data(), dy.data(), dx->data(), n, pool);
      break;
    case ActivationKind::kSigmoid:
      SigmoidBackward(y_.data(), dy.data(), dx->data(), n, pool);
      break;
    case ActivationKind::kRelu6:
      ClampBackward(x_.data(), 0.0f, 6.0f, dy.data(), dx->data(), n, pool);
      break;
  }
}

}  // namespace simdnet
