// Shape implementation.
#include "tensor/shape.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensor/status_macros.h"

namespace simdnet {

Shape::Shape(std::initializer_list<int64_t> dims)
    : Shape(absl::Span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(absl::Span<const int64_t> dims) {
  SIMDNET_CHECK(dims.size() <= static_cast<size_t>(kMaxRank));
  rank_ = static_cast<int>(dims.size());
  for (int i = 0; i < rank_; ++i) {
    SIMDNET_CHECK(dims[static_cast<size_t>(i)] >= 0);
    dims_[static_cast<size_t>(i)] = dims[static_cast<size_t>(i)];
  }
}

absl::StatusOr<Shape> Shape::Create(absl::Span<const int64_t> dims) {
  if (dims.size() > static_cast<size_t>(kMaxRank)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape (", absl::StrJoin(dims, ", "), ") has rank ", dims.size(),
                     "; the maximum rank is ", kMaxRank));
  }
  int64_t total = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("shape (", absl::StrJoin(dims, ", "),
                                                     "): dim ", i, " is negative (",
                                                     dims[i], ")"));
    }
    if (dims[i] != 0 && total > std::numeric_limits<int64_t>::max() / dims[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape (", absl::StrJoin(dims, ", "), "): element count overflows int64"));
    }
    total *= dims[i];
  }
  return Shape(dims);
}

int64_t Shape::dim(int i) const {
  if (i < 0) i += rank_;
  SIMDNET_CHECK(i >= 0 && i < rank_);
  return dims_[static_cast<size_t>(i)];
}

int64_t Shape::size() const { return SizeOf(0, rank_); }

int64_t Shape::SizeOf(int begin, int end) const {
  SIMDNET_CHECK(0 <= begin && begin <= end && end <= rank_);
  int64_t n = 1;
  for (int i = begin; i < end; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

Shape Shape::WithBatch(int64_t n) const {
  SIMDNET_CHECK(rank_ < kMaxRank && n >= 0);
  Shape out;
  out.rank_ = rank_ + 1;
  out.dims_[0] = n;
  for (int i = 0; i < rank_; ++i) out.dims_[static_cast<size_t>(i) + 1] = dims_[static_cast<size_t>(i)];
  return out;
}

std::string Shape::ToString() const { return absl::StrCat("(", absl::StrJoin(dims(), ", "), ")"); }

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i) {
    if (a.dims_[static_cast<size_t>(i)] != b.dims_[static_cast<size_t>(i)]) return false;
  }
  return true;
}

absl::Status CheckSameShape(const Shape& a, const Shape& b, absl::string_view what) {
  if (a == b) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": shape mismatch: ", a.ToString(), " vs ", b.ToString()));
}

absl::Status CheckRank(const Shape& s, int rank, absl::string_view what) {
  if (s.rank() == rank) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": expected rank ", rank,
                                                 " but got shape ", s.ToString()));
}

}  // namespace simdnet
