// Flatten layer: a row-major copy between (N, ...) and (N, prod) layouts.
#include "layers/flatten.h"

#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {

absl::StatusOr<std::unique_ptr<Flatten>> Flatten::Create(const Shape& in) {
  if (in.rank() == 0 || in.rank() >= Shape::kMaxRank || in.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Flatten: input_shape ", in.ToString(), " must have rank 1..",
                     Shape::kMaxRank - 1, " and at least one element"));
  }
  return std::unique_ptr<Flatten>(new Flatten(in));
}

// Copies rather than aliasing x: the Layer contract lets the caller reuse y freely, and a view
// would make y change whenever the producer of x overwrites it.
void Flatten::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() >= 1 && x.shape() == input_shape_.WithBatch(x.dim(0)));
  const Shape out({x.dim(0), output_shape_.dim(0)});
  y->EnsureShape(out);
  Copy(x.data(), y->data(), static_cast<size_t>(x.size()), &DefaultThreadPool());
}

void Flatten::Backward(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(dy.rank() == 2 && dy.dim(1) == output_shape_.dim(0));
  const Shape in = input_shape_.WithBatch(dy.dim(0));
  dx->EnsureShape(in);
  Copy(dy.data(), dx->data(), static_cast<size_t>(dy.size()), &DefaultThreadPool());
}

}  // namespace simdnet
