// Tensor-level element-wise (with NumPy broadcasting), reduction and GEMM ops: thin wrappers over
// tensor/elementwise.h, tensor/reduce.h and tensor/gemm.h that validate user-given shapes and axes
// and return absl::Status errors.
//
// Conventions: `axis` may be negative (-1 is the last dim); it must lie in [-rank, rank), else
// InvalidArgument naming the op, the axis and the shape. Axis reductions drop the reduced dim
// (a (2, 3) tensor reduced over axis 1 has shape (2)), or keep it with size 1 when keep_dims.
// "Into" variants write a caller-provided output of the right shape, which may alias an input
// exactly but must not partially overlap it. `pool` (optional) parallelizes large element-wise
// ops in fixed chunks, so results never depend on the thread count.
#ifndef SIMDNET_TENSOR_OPS_H_
#define SIMDNET_TENSOR_OPS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

class ThreadPool;

namespace ops {

// ---- Element-wise, tensor-tensor --------------------------------------------------------------

// Returns a + b (a - b, a * b) element-wise, as a new tensor of a's shape.
// InvalidArgument "Add: shape mismatch: (..) vs (..)" unless a.shape() == b.shape().
absl::StatusOr<Tensor> Add(const Tensor& a, const Tensor& b, ThreadPool* pool = nullptr);
absl::StatusOr<Tensor> Sub(const Tensor& a, const Tensor& b, ThreadPool* pool = nullptr);
absl::StatusOr<Tensor> Mul(const Tensor& a, const Tensor& b, ThreadPool* pool = nullptr);

// Writes a + b (a - b, a * b) into *y. Requires: y != nullptr.
// InvalidArgument naming the shapes unless a, b and *y all have the same shape, or if *y
// partially overlaps a or b.
absl::Status AddInto(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool = nullptr);
absl::Status SubInto(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool = nullptr);
absl::Status MulInto(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool = nullptr);

// Computes y += alpha * x (BLAS saxpy). Requires: y != nullptr.
// InvalidArgument naming both shapes unless x.shape() == y->shape(), or if they partially
// overlap.
absl::Status Axpy(float alpha, const Tensor& x, Tensor* y, ThreadPool* pool = nullptr);

// ---- Broadcasting element-wise (NumPy rules) ---------------------------------------------------
//
// Shapes are aligned from the right; two dims are compatible when equal or when either is 1, and
// the result takes the larger. A missing leading dim counts as 1. E.g. (2, 1, 4) with (3, 1)
// broadcasts to (2, 3, 4); (2, 3) with (2) is incompatible.

// Returns the broadcast shape of a and b. InvalidArgument "<op>: shapes (..) and (..) cannot be
// broadcast: dim D (x vs y)" naming both shapes and the first incompatible dim (counted in the
// result), or if the result's rank exceeds Shape::kMaxRank (it cannot: it is max(ranks)).
absl::StatusOr<Shape> BroadcastShape(const Shape& a, const Shape& b, const char* op = "Broadcast");

// Writes y = a + b (a * b) with broadcasting; *y is given the broadcast shape (its storage is
// kept when it already has that shape). Requires: y != nullptr. *y may share storage with an
// input; unless it is exactly an input of the output's size, the result is computed into fresh
// storage that *y then refers to. InvalidArgument naming both shapes if they do not broadcast.
absl::Status BroadcastAdd(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool = nullptr);
absl::Status BroadcastMul(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool = nullptr);

// The gradient helper of broadcasting: writes into *out (given `shape`) the sum of grad over the
// dims along which `shape` was broadcast to grad.shape() (leading dims missing from `shape` and
// dims where `shape` has 1 but grad does not), accumulated in double. Requires: out != nullptr;
// out may share storage with grad. InvalidArgument naming both shapes unless `shape` broadcasts
// to exactly grad.shape().
absl::Status ReduceToShape(const Tensor& grad, const Shape& shape, Tensor* out);

// Backward of y = a + b with broadcasting: da = ReduceToShape(dy, a_shape), db likewise.
// Requires: da, db non-null. InvalidArgument naming the shapes unless dy has the broadcast shape
// of a_shape and b_shape.
absl::Status BroadcastAddBackward(const Tensor& dy, const Shape& a_shape, const Shape& b_shape,
                                  Tensor* da, Tensor* db);
// Backward of y = a * b with broadcasting: da = ReduceToShape(dy * b, a.shape()),
// db = ReduceToShape(dy * a, b.shape()). Requires: da, db non-null (they may share storage with
// the inputs: both products are formed before either is written). InvalidArgument naming the shapes
// unless dy has the broadcast shape of a and b.
absl::Status BroadcastMulBackward(const Tensor& dy, const Tensor& a, const Tensor& b, Tensor* da,
                                  Tensor* db, ThreadPool* pool = nullptr);

// ---- GEMM (ONNX Gemm semantics) -----------------------------------------------------------------

// Writes Y = alpha * op(A) * op(B) + beta * C, where op(A) is A (M, K) or, if trans_a, the
// transpose of A (K, M); op(B) is B (K, N) or, if trans_b, the transpose of B (N, K). C is
// optional (null: no C term) and broadcast unidirectionally to (M, N): a scalar (rank 0, (1) or
// (1, 1)), a row (N) or (1, N), a column (M, 1), or the full (M, N). With beta == 0 (or no C) C is
// not read, as in BLAS (a NaN in C does not propagate). *y is given shape (M, N). Runs on
// tensor/gemm.h Sgemm over `pool` (DefaultThreadPool() when null). Requires: y != nullptr; *y may
// share storage with any input (the result then gets fresh storage unless *y is exactly a full
// (M, N) C). InvalidArgument naming the shapes if A or B is not rank 2, the inner dims of op(A)
// and op(B) differ, or C does not broadcast to (M, N).
absl::Status Gemm(float alpha, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b,
                  float beta, const Tensor* c, Tensor* y, ThreadPool* pool = nullptr);

// ---- Element-wise, tensor-scalar (cannot fail) -------------------------------------------------

// Returns x + s (x * s) as a new tensor of x's shape.
Tensor AddScalar(const Tensor& x, float s, ThreadPool* pool = nullptr);
Tensor MulScalar(const Tensor& x, float s, ThreadPool* pool = nullptr);
// Computes y *= alpha in place. Requires: y != nullptr.
void Scale(float alpha, Tensor* y, ThreadPool* pool = nullptr);
// Sets every element of *y to value. Requires: y != nullptr.
void Fill(Tensor* y, float value, ThreadPool* pool = nullptr);

// ---- Whole-tensor reductions (cannot fail) ----------------------------------------------------

// Returns the sum of all elements (0 for an empty tensor).
float SumAll(const Tensor& x);
// Returns sum |x_i|.
float L1Norm(const Tensor& x);
// Returns sqrt(sum x_i^2).
float L2Norm(const Tensor& x);
// Returns sum x_i^2.
float SquaredL2Norm(const Tensor& x);

// ---- Axis reductions ---------------------------------------------------------------------------

// Returns the sum of x over `axis` (an empty axis sums to 0).
// InvalidArgument naming the axis and shape if the axis is out of range.
absl::StatusOr<Tensor> Sum(const Tensor& x, int axis, bool keep_dims = false);
// Returns the mean (max) of x over `axis`. InvalidArgument if the axis is out of range or has
// size 0 (the mean or max of nothing is undefined).
absl::StatusOr<Tensor> Mean(const Tensor& x, int axis, bool keep_dims = false);
absl::StatusOr<Tensor> Max(const Tensor& x, int axis, bool keep_dims = false);

// The result of ArgMax: indices along the reduced axis, row-major with the shape of x with that
// axis removed (or kept with size 1).
struct IndexTensor {
  Shape shape;
  std::vector<int64_t> indices;
};
// Returns, for each position, the first index along `axis` holding the maximum.
// InvalidArgument if the axis is out of range or has size 0. NaN inputs give unspecified indices.
absl::StatusOr<IndexTensor> ArgMax(const Tensor& x, int axis, bool keep_dims = false);

// Returns softmax (log_softmax) of x along `axis`, computed stably (the max is subtracted first),
// with x's shape. InvalidArgument if the axis is out of range or has size 0.
absl::StatusOr<Tensor> Softmax(const Tensor& x, int axis);
absl::StatusOr<Tensor> LogSoftmax(const Tensor& x, int axis);

// ---- Helpers shared with layers
// ------------------------------------------------------------------

// The (outer, axis, inner) view of a shape around one axis, as taken by tensor/reduce.h.
struct AxisView {
  int axis;  // normalized to [0, rank)
  int64_t outer, size, inner;
};
// Returns the view of `shape` around `axis` (negative counts from the back).
// InvalidArgument "<op>: axis A out of range for shape (..) of rank R" if axis is not in
// [-rank, rank).
absl::StatusOr<AxisView> ResolveAxis(const Shape& shape, int axis, const char* op);

}  // namespace ops
}  // namespace simdnet

#endif  // SIMDNET_TENSOR_OPS_H_
