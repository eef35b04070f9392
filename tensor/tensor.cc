// Tensor implementation: aligned reference-counted storage, views and copies.
#include "tensor/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

size_t RoundUpBytes(size_t count) {
  const size_t bytes = count * sizeof(float);
  return (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
}

}  // namespace

void AlignedFreeDeleter::operator()(void* p) const { std::free(p); }

AlignedBuffer AllocateAlignedBuffer(size_t count) {
  if (count == 0) return AlignedBuffer();
  void* p = std::aligned_alloc(kTensorAlignment, RoundUpBytes(count));
  if (p == nullptr) throw std::bad_alloc();
  return AlignedBuffer(static_cast<float*>(p));
}

std::shared_ptr<float> AllocateAlignedFloats(size_t count) {
  if (count == 0) return nullptr;
  const size_t bytes = RoundUpBytes(count);
  void* p = std::aligned_alloc(kTensorAlignment, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return std::shared_ptr<float>(static_cast<float*>(p), [](float* q) { std::free(q); });
}

Tensor::Tensor() : shape_({0}) {}

Tensor::Tensor(const Shape& shape)
    : storage_(AllocateAlignedFloats(static_cast<size_t>(shape.size()))),
      data_(storage_.get()),
      shape_(shape) {}

absl::StatusOr<Tensor> Tensor::Create(absl::Span<const int64_t> dims) {
  SIMDNET_ASSIGN_OR_RETURN(Shape shape, Shape::Create(dims));
  return Tensor(shape);
}

absl::StatusOr<Tensor> Tensor::FromVector(const Shape& shape, absl::Span<const float> values) {
  if (static_cast<int64_t>(values.size()) != shape.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Tensor::FromVector: shape ", shape.ToString(),
                                                   " holds ", shape.size(), " elements but ",
                                                   values.size(), " values were given"));
  }
  Tensor t(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

float& Tensor::at(std::initializer_list<int64_t> idx) {
  SIMDNET_CHECK(static_cast<int>(idx.size()) == rank());
  int64_t offset = 0;
  int d = 0;
  for (int64_t i : idx) {
    SIMDNET_CHECK(i >= 0 && i < shape_.dim(d));
    offset = offset * shape_.dim(d) + i;
    ++d;
  }
  return data_[offset];
}

float Tensor::at(std::initializer_list<int64_t> idx) const {
  return const_cast<Tensor*>(this)->at(idx);
}

absl::StatusOr<Tensor> Tensor::Reshape(const Shape& shape) const {
  if (shape.size() != size()) {
    return absl::InvalidArgumentError(absl::StrCat("reshape: cannot view ", shape_.ToString(),
                                                   " (", size(), " elements) as ",
                                                   shape.ToString(), " (", shape.size(),
                                                   " elements)"));
  }
  return Tensor(storage_, data_, shape);
}

Tensor Tensor::Slice(int64_t begin, int64_t end) const {
  SIMDNET_CHECK(rank() >= 1);
  SIMDNET_CHECK(0 <= begin && begin <= end && end <= dim(0));
  std::array<int64_t, Shape::kMaxRank> dims{};
  for (int i = 0; i < rank(); ++i) dims[static_cast<size_t>(i)] = dim(i);
  dims[0] = end - begin;
  const int64_t row = shape_.SizeOf(1, rank());
  return Tensor(storage_, data_ + begin * row,
                Shape(absl::Span<const int64_t>(dims.data(), static_cast<size_t>(rank()))));
}

Tensor Tensor::operator()(int64_t i) const {
  SIMDNET_CHECK(rank() >= 1);
  SIMDNET_CHECK(0 <= i && i < dim(0));
  const int64_t row = shape_.SizeOf(1, rank());
  return Tensor(storage_, data_ + i * row, Shape(shape_.dims().subspan(1)));
}

Tensor Tensor::Clone() const {
  Tensor t(shape_);
  if (size() > 0) std::memcpy(t.data(), data_, static_cast<size_t>(size()) * sizeof(float));
  return t;
}

absl::Status Tensor::CopyFrom(const Tensor& src) {
  SIMDNET_RETURN_IF_ERROR(CheckSameShape(shape_, src.shape(), "Tensor::CopyFrom"));
  if (size() > 0 && data_ != src.data_) {
    std::memmove(data_, src.data_, static_cast<size_t>(size()) * sizeof(float));
  }
  return absl::OkStatus();
}

void Tensor::SetAll(float value) { std::fill(data_, data_ + size(), value); }

std::string Tensor::DebugString(int64_t max_elements) const {
  std::string s = absl::StrCat("Tensor", shape_.ToString(), " [");
  const int64_t n = std::min(size(), max_elements);
  for (int64_t i = 0; i < n; ++i) absl::StrAppend(&s, i ? ", " : "", data_[i]);
  if (n < size()) absl::StrAppend(&s, ", ...");
  absl::StrAppend(&s, "]");
  return s;
}

}  // namespace simdnet
