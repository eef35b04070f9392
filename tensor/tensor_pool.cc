// TensorPool: best-fit reuse of blocks that no tensor refers to any more.
#include "tensor/tensor_pool.h"

#include <algorithm>
#include <utility>

#include "tensor/status_macros.h"

namespace simdnet {

Tensor TensorPool::Acquire(const Shape& shape) {
  const int64_t n = shape.size();
  if (n == 0) return Tensor(shape);
  Tensor* best = nullptr;     // the smallest free block that fits
  Tensor* largest = nullptr;  // the largest free block (too small if best is null)
  for (Tensor& block : blocks_) {
    if (block.StorageUseCount() != 1) continue;
    if (largest == nullptr || block.size() > largest->size()) largest = &block;
    if (block.size() >= n && (best == nullptr || block.size() < best->size())) best = &block;
  }
  if (best == nullptr && largest != nullptr) {
    // Grow a free block rather than add one: the pool then never holds more blocks than were
    // in use at once, whatever order the sizes come in.
    *largest = Tensor();  // freed before the bigger one is allocated
    *largest = Tensor(Shape({n}));
    best = largest;
  } else if (best == nullptr) {
    blocks_.emplace_back(Shape({n}));
    best = &blocks_.back();
  }
  auto view = best->Slice(0, n).Reshape(shape);
  SIMDNET_CHECK(view.ok());
  return *std::move(view);
}

void TensorPool::ReleaseUnused() {
  blocks_.erase(std::remove_if(blocks_.begin(), blocks_.end(),
                               [](const Tensor& b) { return b.StorageUseCount() == 1; }),
                blocks_.end());
}

int64_t TensorPool::bytes() const {
  int64_t total = 0;
  for (const Tensor& b : blocks_) total += b.size() * static_cast<int64_t>(sizeof(float));
  return total;
}

}  // namespace simdnet
