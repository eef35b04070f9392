// TensorPool: reusable storage for short-lived tensors (inference activations). A pool keeps
// the blocks it allocated; a block is free again as soon as no tensor refers to it any more
// (its last view was destroyed or reassigned), so callers never release anything explicitly.
//
//   TensorPool pool;
//   Tensor a = pool.Acquire(Shape({16, 64, 56, 56}));   // a block, contents unspecified
//   Tensor b = pool.Acquire(Shape({16, 64, 28, 28}));   // another block (a is in use)
//   a = Tensor();                                        // a's block is free again
//   Tensor c = pool.Acquire(Shape({16, 128, 28, 28}));  // reuses a's block (big enough)
//
// Not thread-safe: one pool per thread of control (the kernels a tensor is handed to may use
// the thread pool; acquiring is what must not race).
#ifndef SIMDNET_TENSOR_TENSOR_POOL_H_
#define SIMDNET_TENSOR_TENSOR_POOL_H_

#include <cstdint>
#include <vector>

#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

class TensorPool {
 public:
  TensorPool() = default;
  TensorPool(const TensorPool&) = delete;
  TensorPool& operator=(const TensorPool&) = delete;

  // Returns a tensor of `shape` viewing the smallest free block that holds shape.size()
  // elements. If no free block is big enough, the largest free one is replaced by a block of
  // exactly that size, and only if no block is free is one added: the pool never holds more
  // blocks than were in use at the same time. The contents are unspecified
  // (whatever the block's previous user left): the caller overwrites them. The block stays in
  // use while the returned tensor or any view of it is alive.
  Tensor Acquire(const Shape& shape);

  // Frees every block no tensor refers to; blocks in use stay.
  void ReleaseUnused();

  // Returns the bytes of all blocks the pool holds (in use or free).
  int64_t bytes() const;
  // Returns the number of blocks (in use or free).
  size_t blocks() const { return blocks_.size(); }

 private:
  std::vector<Tensor> blocks_;  // rank-1 tensors; free when StorageUseCount() == 1
};

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_TENSOR_POOL_H_
