// Tensor: a float32 array of rank 0-5 with int64 dims, contiguous row-major (NCHW for image
// batches). Storage is reference-counted and 64-byte aligned, so views and reshapes are cheap;
// Clone() is the explicit deep copy.
//
// Thread safety: like std::vector<float>; concurrent reads are fine, writes need external sync.
// Views share storage: writing through a view is visible through every tensor sharing it.
#ifndef SIMDNET_TENSOR_TENSOR_H_
#define SIMDNET_TENSOR_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tensor/shape.h"

namespace simdnet {

// Alignment of every tensor allocation, in bytes (one AVX-512 vector / cache line).
inline constexpr size_t kTensorAlignment = 64;

class Tensor {
 public:
  // Returns an empty rank-1 tensor with 0 elements (no storage).
  Tensor();
  // Allocates a zero-filled tensor. Requires: a valid Shape (shapes from users go through
  // Shape::Create or Tensor::Create first).
  explicit Tensor(const Shape& shape);
  // Allocates a zero-filled tensor; InvalidArgument for bad dims (see Shape::Create).
  static absl::StatusOr<Tensor> Create(absl::Span<const int64_t> dims);
  // Returns a tensor of the given shape holding a copy of `values`; InvalidArgument if the
  // element counts differ.
  static absl::StatusOr<Tensor> FromVector(const Shape& shape, absl::Span<const float> values);

  // Copies and moves are shallow: they share storage (like a view). Use Clone() for a deep copy.
  Tensor(const Tensor&) = default;
  Tensor& operator=(const Tensor&) = default;
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t dim(int i) const { return shape_.dim(i); }
  int64_t size() const { return shape_.size(); }
  bool empty() const { return size() == 0; }

  float* data() { return data_; }
  const float* data() const { return data_; }
  absl::Span<float> span() { return {data_, static_cast<size_t>(size())}; }
  absl::Span<const float> span() const { return {data_, static_cast<size_t>(size())}; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }
  // Element access by full index. Requires: idx.size() == rank(), each index in range.
  float& at(std::initializer_list<int64_t> idx);
  float at(std::initializer_list<int64_t> idx) const;

  // Returns true if both share the same storage block.
  bool SharesStorageWith(const Tensor& other) const { return storage_ == other.storage_; }
  // Returns how many tensors (this one and its views, copies) share this tensor's storage block;
  // 0 for a tensor without storage. How TensorPool tells a free block from one in use.
  long StorageUseCount() const { return storage_.use_count(); }

  // Returns a view with a new shape of the same element count, sharing storage.
  // InvalidArgument naming both shapes if the counts differ.
  absl::StatusOr<Tensor> Reshape(const Shape& shape) const;
  // Returns the view of rows [begin, end) along dim 0, sharing storage. Alignment is only
  // guaranteed for begin == 0. Requires: rank() >= 1, 0 <= begin <= end <= dim(0).
  Tensor Slice(int64_t begin, int64_t end) const;
  // Returns element i along dim 0 as a tensor of rank()-1, sharing storage. Requires rank()>=1.
  Tensor operator()(int64_t i) const;

  // Returns a deep copy with fresh, aligned storage.
  Tensor Clone() const;
  // Copies src's elements into this tensor's storage; InvalidArgument if shapes differ.
  absl::Status CopyFrom(const Tensor& src);
  // Makes this tensor have `shape`: keeps the storage (and contents) if the shape already
  // matches, else replaces it with a fresh zero-filled allocation. How layers reuse their output
  // and gradient buffers across calls.
  void EnsureShape(const Shape& shape) {
    if (shape_ != shape) *this = Tensor(shape);
  }
  // Sets every element to `value` (serial; use tensor/elementwise.h Fill for big buffers).
  void SetAll(float value);

  std::string DebugString(int64_t max_elements = 16) const;

 private:
  Tensor(std::shared_ptr<float> storage, float* data, const Shape& shape)
      : storage_(std::move(storage)), data_(data), shape_(shape) {}

  std::shared_ptr<float> storage_;
  float* data_ = nullptr;
  Shape shape_;
};

// Allocates `count` floats aligned to kTensorAlignment (zero-filled). Released via the deleter
// of the returned shared_ptr. count may be 0 (returns a null pointer).
std::shared_ptr<float> AllocateAlignedFloats(size_t count);

// A 64-byte-aligned, non-shared scratch buffer for kernels (workspaces kept across calls).
struct AlignedFreeDeleter {
  void operator()(void* p) const;
};
using AlignedBuffer = std::unique_ptr<float[], AlignedFreeDeleter>;
// Returns an uninitialized aligned buffer of `count` floats (null for 0).
AlignedBuffer AllocateAlignedBuffer(size_t count);

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_TENSOR_H_
