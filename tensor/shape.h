// Shape: the dimensions of a tensor (rank 0 to 5, int64 sizes), plus validators that turn bad
// user-given shapes into absl::Status errors naming both shapes.
#ifndef SIMDNET_TENSOR_SHAPE_H_
#define SIMDNET_TENSOR_SHAPE_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace simdnet {

class Shape {
 public:
  static constexpr int kMaxRank = 5;

  // Returns a rank-0 shape (a scalar: one element).
  Shape() = default;
  // Builds a shape from trusted dims. Requires: dims.size() <= kMaxRank, every dim >= 0.
  // For user-given dims use Shape::Create.
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(absl::Span<const int64_t> dims);

  // Returns a shape, or InvalidArgument naming the offending dim if the rank exceeds kMaxRank,
  // a dim is negative, or the element count overflows int64.
  static absl::StatusOr<Shape> Create(absl::Span<const int64_t> dims);

  int rank() const { return rank_; }
  // Requires: 0 <= i < rank(). Negative i counts from the back (-1 is the last dim).
  int64_t dim(int i) const;
  int64_t operator[](int i) const { return dim(i); }
  absl::Span<const int64_t> dims() const { return {dims_.data(), static_cast<size_t>(rank_)}; }
  // Returns the number of elements (1 for rank 0).
  int64_t size() const;
  // Returns the product of dims [begin, end).
  int64_t SizeOf(int begin, int end) const;

  // Returns (n, ...this): a per-sample shape with a batch dim in front. Requires rank() <
  // kMaxRank and n >= 0.
  Shape WithBatch(int64_t n) const;

  // Returns "(2, 3, 4)"; "()" for a scalar.
  std::string ToString() const;

  friend bool operator==(const Shape& a, const Shape& b);
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// Returns OK if a == b, else InvalidArgument "<what>: shape mismatch: (..) vs (..)".
absl::Status CheckSameShape(const Shape& a, const Shape& b, absl::string_view what);

// Returns OK if s has rank `rank`, else InvalidArgument naming `what` and the shape.
absl::Status CheckRank(const Shape& s, int rank, absl::string_view what);

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_SHAPE_H_
