// LogSoftmax layer: the forward is tensor/reduce.h's stable LogSoftmaxAxis; the backward is a
// plain loop (one pass over dy, O(N C S), small beside any layer before it).
#include "layers/log_softmax.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "tensor/reduce.h"
#include "tensor/status_macros.h"

namespace simdnet {

absl::StatusOr<std::unique_ptr<LogSoftmax>> LogSoftmax::Create(const Shape& input_shape) {
  if (input_shape.rank() == 0 || input_shape.rank() >= Shape::kMaxRank ||
      input_shape.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("LogSoftmax: input_shape ", input_shape.ToString(), " must have rank 1..",
                     Shape::kMaxRank - 1, " and at least one element"));
  }
  return std::unique_ptr<LogSoftmax>(new LogSoftmax(input_shape));
}

void LogSoftmax::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == shape_.rank() + 1 && x.dim(0) >= 1);
  for (int i = 0; i < shape_.rank(); ++i) SIMDNET_CHECK(x.dim(i + 1) == shape_.dim(i));
  const size_t n = static_cast<size_t>(x.dim(0));
  const size_t c = static_cast<size_t>(shape_.dim(0));
  const size_t inner = static_cast<size_t>(shape_.SizeOf(1, shape_.rank()));
  y->EnsureShape(x.shape());
  LogSoftmaxAxis(x.data(), n, c, inner, y->data());
  y_.EnsureShape(x.shape());
  SIMDNET_CHECK(y_.CopyFrom(*y).ok());
}

void LogSoftmax::Backward(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(dy.shape() == y_.shape());
  const size_t n = static_cast<size_t>(dy.dim(0));
  const size_t c = static_cast<size_t>(shape_.dim(0));
  const size_t inner = static_cast<size_t>(shape_.SizeOf(1, shape_.rank()));
  dx->EnsureShape(dy.shape());
  sum_.EnsureShape(Shape({static_cast<int64_t>(n), static_cast<int64_t>(inner)}));
  SumAxis(dy.data(), n, c, inner, sum_.data());
  // dx = dy - exp(y) * sum_c dy (softmax = exp(log softmax)).
  for (size_t o = 0; o < n; ++o) {
    for (size_t a = 0; a < c; ++a) {
      const size_t base = (o * c + a) * inner;
      for (size_t i = 0; i < inner; ++i) {
        dx->data()[base + i] =
            dy.data()[base + i] - std::exp(y_.data()[base + i]) * sum_.data()[o * inner + i];
      }
    }
  }
}

}  // namespace simdnet
