// Tensor-level ops: validate shapes and axes, then call the dispatched kernels in
// tensor/elementwise.h and tensor/reduce.h.
#include "tensor/ops.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/reduce.h"
#include "tensor/shape.h"
#include "tensor/status_macros.h"
#include "tensor/tensor.h"

namespace simdnet {
namespace ops {
namespace {

size_t Count(const Tensor& t) { return static_cast<size_t>(t.size()); }

// Returns InvalidArgument if x and y share memory without being the same span (the kernels
// allow exact aliasing only).
absl::Status CheckNoPartialOverlap(const Tensor& x, const Tensor& y, const char* op,
                                   const char* x_name) {
  if (x.empty() || y.empty()) return absl::OkStatus();
  const float* x0 = x.data();
  const float* y0 = y.data();
  const bool overlap = x0 < y0 + y.size() && y0 < x0 + x.size();
  if (overlap && x0 != y0) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": output of shape ", y.shape().ToString(), " partially overlaps input ", x_name,
        " of shape ", x.shape().ToString(), " (only exact aliasing is allowed)"));
  }
  return absl::OkStatus();
}

using BinaryKernel = void (*)(const float*, const float*, float*, size_t, ThreadPool*);

absl::Status BinaryInto(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool,
                        const char* op, BinaryKernel kernel) {
  SIMDNET_CHECK(y != nullptr);
  if (a.shape() != b.shape() || a.shape() != y->shape()) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": shape mismatch: a ", a.shape().ToString(),
                                                   " vs b ", b.shape().ToString(), " vs output ",
                                                   y->shape().ToString()));
  }
  SIMDNET_RETURN_IF_ERROR(CheckNoPartialOverlap(a, *y, op, "a"));
  SIMDNET_RETURN_IF_ERROR(CheckNoPartialOverlap(b, *y, op, "b"));
  kernel(a.data(), b.data(), y->data(), Count(a), pool);
  return absl::OkStatus();
}

absl::StatusOr<Tensor> Binary(const Tensor& a, const Tensor& b, ThreadPool* pool, const char* op,
                              BinaryKernel kernel) {
  SIMDNET_RETURN_IF_ERROR(CheckSameShape(a.shape(), b.shape(), op));
  Tensor y(a.shape());
  kernel(a.data(), b.data(), y.data(), Count(a), pool);
  return y;
}

// Returns the shape of x reduced over view.axis (dropped, or kept with size 1).
Shape ReducedShape(const Shape& shape, const AxisView& view, bool keep_dims) {
  std::vector<int64_t> dims;
  for (int i = 0; i < shape.rank(); ++i) {
    if (i != view.axis) {
      dims.push_back(shape.dim(i));
    } else if (keep_dims) {
      dims.push_back(1);
    }
  }
  return Shape(absl::MakeConstSpan(dims));
}

// Resolves the axis and rejects an empty one (for reductions undefined on no elements).
absl::StatusOr<AxisView> ResolveNonEmptyAxis(const Shape& shape, int axis, const char* op) {
  SIMDNET_ASSIGN_OR_RETURN(AxisView view, ResolveAxis(shape, axis, op));
  if (view.size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": axis ", axis, " of shape ",
                                                   shape.ToString(),
                                                   " is empty (size 0); the result is undefined"));
  }
  return view;
}

using AxisKernel = void (*)(const float*, size_t, size_t, size_t, float*);

absl::StatusOr<Tensor> AxisReduce(const Tensor& x, int axis, bool keep_dims, bool allow_empty,
                                  const char* op, AxisKernel kernel) {
  SIMDNET_ASSIGN_OR_RETURN(AxisView view, allow_empty ? ResolveAxis(x.shape(), axis, op)
                                                      : ResolveNonEmptyAxis(x.shape(), axis, op));
  Tensor y(ReducedShape(x.shape(), view, keep_dims));
  kernel(x.data(), static_cast<size_t>(view.outer), static_cast<size_t>(view.size),
         static_cast<size_t>(view.inner), y.data());
  return y;
}

absl::StatusOr<Tensor> AxisSoftmax(const Tensor& x, int axis, const char* op, AxisKernel kernel) {
  SIMDNET_ASSIGN_OR_RETURN(AxisView view, ResolveNonEmptyAxis(x.shape(), axis, op));
  Tensor y(x.shape());
  kernel(x.data(), static_cast<size_t>(view.outer), static_cast<size_t>(view.size),
         static_cast<size_t>(view.inner), y.data());
  return y;
}

}  // namespace

absl::StatusOr<AxisView> ResolveAxis(const Shape& shape, int axis, const char* op) {
  const int rank = shape.rank();
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": axis ", axis, " out of range for shape ",
                                                   shape.ToString(), " of rank ", rank,
                                                   " (valid: ", -rank, " to ", rank - 1, ")"));
  }
  AxisView view;
  view.axis = axis < 0 ? axis + rank : axis;
  view.outer = shape.SizeOf(0, view.axis);
  view.size = shape.dim(view.axis);
  view.inner = shape.SizeOf(view.axis + 1, rank);
  return view;
}

absl::StatusOr<Tensor> Add(const Tensor& a, const Tensor& b, ThreadPool* pool) {
  return Binary(a, b, pool, "Add", &simdnet::Add);
}
absl::StatusOr<Tensor> Sub(const Tensor& a, const Tensor& b, ThreadPool* pool) {
  return Binary(a, b, pool, "Sub", &simdnet::Sub);
}
absl::StatusOr<Tensor> Mul(const Tensor& a, const Tensor& b, ThreadPool* pool) {
  return Binary(a, b, pool, "Mul", &simdnet::Mul);
}

absl::Status AddInto(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool) {
  return BinaryInto(a, b, y, pool, "AddInto", &simdnet::Add);
}
absl::Status SubInto(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool) {
  return BinaryInto(a, b, y, pool, "SubInto", &simdnet::Sub);
}
absl::Status MulInto(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool) {
  return BinaryInto(a, b, y, pool, "MulInto", &simdnet::Mul);
}

absl::Status Axpy(float alpha, const Tensor& x, Tensor* y, ThreadPool* pool) {
  SIMDNET_CHECK(y != nullptr);
  SIMDNET_RETURN_IF_ERROR(CheckSameShape(x.shape(), y->shape(), "Axpy"));
  SIMDNET_RETURN_IF_ERROR(CheckNoPartialOverlap(x, *y, "Axpy", "x"));
  simdnet::Axpy(alpha, x.data(), y->data(), Count(x), pool);
  return absl::OkStatus();
}

Tensor AddScalar(const Tensor& x, float s, ThreadPool* pool) {
  Tensor y(x.shape());
  simdnet::AddScalar(x.data(), s, y.data(), Count(x), pool);
  return y;
}

Tensor MulScalar(const Tensor& x, float s, ThreadPool* pool) {
  Tensor y(x.shape());
  simdnet::MulScalar(x.data(), s, y.data(), Count(x), pool);
  return y;
}

void Scale(float alpha, Tensor* y, ThreadPool* pool) {
  SIMDNET_CHECK(y != nullptr);
  simdnet::Scale(alpha, y->data(), Count(*y), pool);
}

void Fill(Tensor* y, float value, ThreadPool* pool) {
  SIMDNET_CHECK(y != nullptr);
  simdnet::Fill(y->data(), Count(*y), value, pool);
}

float SumAll(const Tensor& x) { return simdnet::Sum(x.data(), Count(x)); }
float L1Norm(const Tensor& x) { return simdnet::L1Norm(x.data(), Count(x)); }
float SquaredL2Norm(const Tensor& x) { return simdnet::SquaredL2Norm(x.data(), Count(x)); }
float L2Norm(const Tensor& x) { return std::sqrt(SquaredL2Norm(x)); }

absl::StatusOr<Tensor> Sum(const Tensor& x, int axis, bool keep_dims) {
  return AxisReduce(x, axis, keep_dims, /*allow_empty=*/true, "Sum", &simdnet::SumAxis);
}
absl::StatusOr<Tensor> Mean(const Tensor& x, int axis, bool keep_dims) {
  return AxisReduce(x, axis, keep_dims, /*allow_empty=*/false, "Mean", &simdnet::MeanAxis);
}
absl::StatusOr<Tensor> Max(const Tensor& x, int axis, bool keep_dims) {
  return AxisReduce(x, axis, keep_dims, /*allow_empty=*/false, "Max", &simdnet::MaxAxis);
}

absl::StatusOr<IndexTensor> ArgMax(const Tensor& x, int axis, bool keep_dims) {
  SIMDNET_ASSIGN_OR_RETURN(AxisView view, ResolveNonEmptyAxis(x.shape(), axis, "ArgMax"));
  IndexTensor out;
  out.shape = ReducedShape(x.shape(), view, keep_dims);
  out.indices.resize(static_cast<size_t>(view.outer * view.inner));
  ArgmaxAxis(x.data(), static_cast<size_t>(view.outer), static_cast<size_t>(view.size),
             static_cast<size_t>(view.inner), out.indices.data());
  return out;
}

absl::StatusOr<Tensor> Softmax(const Tensor& x, int axis) {
  return AxisSoftmax(x, axis, "Softmax", &simdnet::SoftmaxAxis);
}
absl::StatusOr<Tensor> LogSoftmax(const Tensor& x, int axis) {
  return AxisSoftmax(x, axis, "LogSoftmax", &simdnet::LogSoftmaxAxis);
}

}  // namespace ops
}  // namespace simdnet
