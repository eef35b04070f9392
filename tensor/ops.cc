// Tensor-level ops: validate shapes and axes, then call the dispatched kernels in
// tensor/elementwise.h, tensor/reduce.h and tensor/gemm.h.
#include "tensor/ops.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/gemm.h"
#include "tensor/reduce.h"
#include "tensor/shape.h"
#include "tensor/status_macros.h"
#include "tensor/tensor.h"
#include "tensor/thread_pool.h"

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

// True if the float ranges of x and [p, p + n) share memory.
bool Overlaps(const Tensor& x, const float* p, int64_t n) {
  if (x.empty() || n == 0) return false;
  return x.data() < p + n && p < x.data() + x.size();
}

// A broadcast binary op over the output dims, with size-1 dims dropped and adjacent dims merged
// where neither operand changes between broadcast and non-broadcast, so that the innermost run is
// as long as possible (the whole tensor when the shapes are equal).
struct BroadcastPlan {
  int rank = 0;                  // merged dims, >= 1
  int64_t out[Shape::kMaxRank];  // output dims
  int64_t sa[Shape::kMaxRank];   // element strides of a (0 where broadcast)
  int64_t sb[Shape::kMaxRank];   // element strides of b
};

// Returns `shape`'s dims right-aligned in `rank` dims (missing leading dims are 1).
std::vector<int64_t> PadDims(const Shape& shape, int rank) {
  std::vector<int64_t> dims(static_cast<size_t>(rank), 1);
  for (int i = 0; i < shape.rank(); ++i) dims[rank - shape.rank() + i] = shape.dim(i);
  return dims;
}

BroadcastPlan PlanBroadcast(const Shape& a, const Shape& b, const Shape& out) {
  const int rank = out.rank();
  const std::vector<int64_t> da = PadDims(a, rank), db = PadDims(b, rank);
  // Merge from the right: dims[] and "is a / b broadcast here" per merged dim.
  std::vector<int64_t> dims;
  std::vector<bool> ba, bb;
  for (int i = rank - 1; i >= 0; --i) {
    const int64_t n = out.dim(i);
    if (n == 1) continue;  // Size-1 output dims contribute nothing.
    const bool a_bc = da[i] == 1, b_bc = db[i] == 1;
    if (!dims.empty() && ba.back() == a_bc && bb.back() == b_bc) {
      dims.back() *= n;
    } else {
      dims.push_back(n);
      ba.push_back(a_bc);
      bb.push_back(b_bc);
    }
  }
  if (dims.empty()) {  // A single element (or all dims 1).
    dims.push_back(1);
    ba.push_back(false);
    bb.push_back(false);
  }
  BroadcastPlan plan;
  plan.rank = static_cast<int>(dims.size());
  int64_t stride_a = 1, stride_b = 1;
  for (int j = 0; j < plan.rank; ++j) {  // j counts from the innermost merged dim.
    const int i = plan.rank - 1 - j;
    plan.out[i] = dims[j];
    plan.sa[i] = ba[j] ? 0 : stride_a;
    plan.sb[i] = bb[j] ? 0 : stride_b;
    if (!ba[j]) stride_a *= dims[j];
    if (!bb[j]) stride_b *= dims[j];
  }
  return plan;
}

enum class BinaryOp { kAdd, kMul };

// Runs y = a op b over the plan: the innermost merged dim is one kernel call (vector-vector,
// vector-scalar or a fill), the outer dims are walked with an odometer.
void RunBroadcast(const BroadcastPlan& plan, BinaryOp op, const float* a, const float* b, float* y,
                  ThreadPool* pool) {
  const int last = plan.rank - 1;
  const size_t n = static_cast<size_t>(plan.out[last]);
  int64_t outer = 1;
  for (int i = 0; i < last; ++i) outer *= plan.out[i];
  int64_t idx[Shape::kMaxRank] = {};
  int64_t off_a = 0, off_b = 0;
  for (int64_t row = 0; row < outer; ++row) {
    float* yr = y + row * plan.out[last];
    const float* ar = a + off_a;
    const float* br = b + off_b;
    const bool va = plan.sa[last] != 0, vb = plan.sb[last] != 0;
    if (va && vb) {
      (op == BinaryOp::kAdd ? simdnet::Add : simdnet::Mul)(ar, br, yr, n, pool);
    } else if (va) {
      (op == BinaryOp::kAdd ? simdnet::AddScalar : simdnet::MulScalar)(ar, *br, yr, n, pool);
    } else if (vb) {
      (op == BinaryOp::kAdd ? simdnet::AddScalar : simdnet::MulScalar)(br, *ar, yr, n, pool);
    } else {
      simdnet::Fill(yr, n, op == BinaryOp::kAdd ? *ar + *br : *ar * *br, pool);
    }
    // Advance the odometer over dims [0, last).
    for (int i = last - 1; i >= 0; --i) {
      off_a += plan.sa[i];
      off_b += plan.sb[i];
      if (++idx[i] < plan.out[i]) break;
      off_a -= plan.sa[i] * plan.out[i];
      off_b -= plan.sb[i] * plan.out[i];
      idx[i] = 0;
    }
  }
}

// True if writing the output into *y directly is safe: every input either does not overlap *y or
// is exactly *y's span (same start, output size), so element i is read before it is written.
bool CanWriteInPlace(const Tensor& y, const Shape& out, std::initializer_list<const Tensor*> in) {
  if (y.shape() != out) return true;  // *y gets fresh storage from EnsureShape.
  for (const Tensor* x : in) {
    if (Overlaps(*x, y.data(), y.size()) && !(x->data() == y.data() && x->size() == y.size())) {
      return false;
    }
  }
  return true;
}

absl::Status BroadcastBinary(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool,
                             const char* op_name, BinaryOp op) {
  SIMDNET_CHECK(y != nullptr);
  SIMDNET_ASSIGN_OR_RETURN(const Shape out, BroadcastShape(a.shape(), b.shape(), op_name));
  Tensor target = CanWriteInPlace(*y, out, {&a, &b}) ? *y : Tensor(out);
  target.EnsureShape(out);
  if (out.size() > 0) {
    RunBroadcast(PlanBroadcast(a.shape(), b.shape(), out), op, a.data(), b.data(), target.data(),
                 pool);
  }
  *y = std::move(target);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Shape> BroadcastShape(const Shape& a, const Shape& b, const char* op) {
  const int rank = std::max(a.rank(), b.rank());
  const std::vector<int64_t> da = PadDims(a, rank), db = PadDims(b, rank);
  std::vector<int64_t> dims(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) {
    if (da[i] != db[i] && da[i] != 1 && db[i] != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": shapes ", a.ToString(), " and ", b.ToString(), " cannot be broadcast: dim ", i,
          " of the result (", da[i], " vs ", db[i], ")"));
    }
    dims[i] = da[i] == 1 ? db[i] : da[i];
  }
  return Shape(absl::MakeConstSpan(dims));
}

absl::Status BroadcastAdd(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool) {
  return BroadcastBinary(a, b, y, pool, "BroadcastAdd", BinaryOp::kAdd);
}
absl::Status BroadcastMul(const Tensor& a, const Tensor& b, Tensor* y, ThreadPool* pool) {
  return BroadcastBinary(a, b, y, pool, "BroadcastMul", BinaryOp::kMul);
}

absl::Status ReduceToShape(const Tensor& grad, const Shape& shape, Tensor* out) {
  SIMDNET_CHECK(out != nullptr);
  absl::StatusOr<Shape> bc = BroadcastShape(shape, grad.shape(), "ReduceToShape");
  if (!bc.ok() || *bc != grad.shape()) {
    return absl::InvalidArgumentError(absl::StrCat("ReduceToShape: shape ", shape.ToString(),
                                                   " does not broadcast to the gradient's shape ",
                                                   grad.shape().ToString()));
  }
  if (shape == grad.shape()) {
    if (out->data() == grad.data() && out->shape() == shape) return absl::OkStatus();
    Tensor copy = grad.Clone();
    *out = std::move(copy);
    return absl::OkStatus();
  }
  // out = sum over broadcast dims: the plan of "grad op shape" gives grad's strides (identity)
  // and the reduced tensor's strides (0 where broadcast).
  std::vector<double> acc(static_cast<size_t>(shape.size()), 0.0);
  if (grad.size() > 0) {
    const BroadcastPlan plan = PlanBroadcast(grad.shape(), shape, grad.shape());
    const int last = plan.rank - 1;
    const int64_t n = plan.out[last];
    int64_t outer = 1;
    for (int i = 0; i < last; ++i) outer *= plan.out[i];
    int64_t idx[Shape::kMaxRank] = {};
    int64_t off = 0;
    const float* g = grad.data();
    for (int64_t row = 0; row < outer; ++row) {
      const float* gr = g + row * n;
      if (plan.sb[last] != 0) {
        for (int64_t i = 0; i < n; ++i) acc[off + i] += gr[i];
      } else {
        double s = 0;
        for (int64_t i = 0; i < n; ++i) s += gr[i];
        acc[off] += s;
      }
      for (int i = last - 1; i >= 0; --i) {
        off += plan.sb[i];
        if (++idx[i] < plan.out[i]) break;
        off -= plan.sb[i] * plan.out[i];
        idx[i] = 0;
      }
    }
  }
  Tensor result(shape);
  for (int64_t i = 0; i < shape.size(); ++i) result[i] = static_cast<float>(acc[i]);
  *out = std::move(result);
  return absl::OkStatus();
}

absl::Status BroadcastAddBackward(const Tensor& dy, const Shape& a_shape, const Shape& b_shape,
                                  Tensor* da, Tensor* db) {
  SIMDNET_CHECK(da != nullptr && db != nullptr);
  SIMDNET_ASSIGN_OR_RETURN(const Shape out,
                           BroadcastShape(a_shape, b_shape, "BroadcastAddBackward"));
  SIMDNET_RETURN_IF_ERROR(CheckSameShape(dy.shape(), out, "BroadcastAddBackward: dy vs broadcast"));
  const Tensor grad = dy;  // Keeps dy's storage alive if da or db refers to it.
  SIMDNET_RETURN_IF_ERROR(ReduceToShape(grad, a_shape, da));
  return ReduceToShape(grad, b_shape, db);
}

absl::Status BroadcastMulBackward(const Tensor& dy, const Tensor& a, const Tensor& b, Tensor* da,
                                  Tensor* db, ThreadPool* pool) {
  SIMDNET_CHECK(da != nullptr && db != nullptr);
  SIMDNET_ASSIGN_OR_RETURN(const Shape out,
                           BroadcastShape(a.shape(), b.shape(), "BroadcastMulBackward"));
  SIMDNET_RETURN_IF_ERROR(CheckSameShape(dy.shape(), out, "BroadcastMulBackward: dy vs broadcast"));
  const Shape a_shape = a.shape(), b_shape = b.shape();
  Tensor dy_b(out), dy_a(out);
  SIMDNET_RETURN_IF_ERROR(BroadcastMul(dy, b, &dy_b, pool));
  SIMDNET_RETURN_IF_ERROR(BroadcastMul(dy, a, &dy_a, pool));
  SIMDNET_RETURN_IF_ERROR(ReduceToShape(dy_b, a_shape, da));
  return ReduceToShape(dy_a, b_shape, db);
}

absl::Status Gemm(float alpha, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b,
                  float beta, const Tensor* c, Tensor* y, ThreadPool* pool) {
  SIMDNET_CHECK(y != nullptr);
  if (a.rank() != 2 || b.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("Gemm: A and B must be rank 2, got A ",
                                                   a.shape().ToString(), " and B ",
                                                   b.shape().ToString()));
  }
  const int64_t m = trans_a ? a.dim(1) : a.dim(0);
  const int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t kb = trans_b ? b.dim(1) : b.dim(0);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  if (k != kb) {
    return absl::InvalidArgumentError(
        absl::StrCat("Gemm: inner dims differ: op(A) is (", m, ", ", k, ") from A ",
                     a.shape().ToString(), " trans_a=", trans_a ? 1 : 0, ", op(B) is (", kb, ", ",
                     n, ") from B ", b.shape().ToString(), " trans_b=", trans_b ? 1 : 0));
  }
  const Shape out({m, n});
  const bool use_c = c != nullptr && beta != 0.0f;
  if (c != nullptr) {
    absl::StatusOr<Shape> bc = BroadcastShape(c->shape(), out, "Gemm");
    if (c->rank() > 2 || !bc.ok() || *bc != out) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Gemm: C of shape ", c->shape().ToString(), " does not broadcast to the output shape ",
          out.ToString(), " (A ", a.shape().ToString(), ", B ", b.shape().ToString(), ")"));
    }
  }
  // Y exactly equal to a full C may be updated in place; any other sharing gets fresh storage.
  const bool y_is_c = use_c && c->shape() == out && y->shape() == out && y->data() == c->data();
  const bool fresh = y->shape() != out || Overlaps(a, y->data(), y->size()) ||
                     Overlaps(b, y->data(), y->size()) ||
                     (use_c && !y_is_c && Overlaps(*c, y->data(), y->size()));
  Tensor target = fresh ? Tensor(out) : *y;
  const bool copy_c = use_c && (fresh || !y_is_c);
  if (copy_c && out.size() > 0) {
    // Broadcast C into Y: strides 0 along the dims where C has size 1 (or is missing).
    const std::vector<int64_t> cd = PadDims(c->shape(), 2);
    const int64_t row_stride = cd[0] == 1 ? 0 : cd[1];
    const bool full_rows = cd[1] != 1;
    for (int64_t i = 0; i < m; ++i) {
      const float* cr = c->data() + i * row_stride;
      float* yr = target.data() + i * n;
      if (full_rows) {
        simdnet::Copy(cr, yr, static_cast<size_t>(n));
      } else {
        simdnet::Fill(yr, static_cast<size_t>(n), *cr);
      }
    }
  }
  ThreadPool& p = pool != nullptr ? *pool : DefaultThreadPool();
  Sgemm(trans_a, trans_b, static_cast<size_t>(m), static_cast<size_t>(n), static_cast<size_t>(k),
        alpha, a.data(), static_cast<size_t>(a.dim(1)), b.data(), static_cast<size_t>(b.dim(1)),
        use_c ? beta : 0.0f, target.data(), static_cast<size_t>(n), p);
  *y = std::move(target);
  return absl::OkStatus();
}

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
