// ThreadScratch: per-thread, per-slot scratch buffers that only grow, for kernels that need a
// temporary buffer per call (packing, transforms, per-channel planes) without a malloc and page
// faults per call.
#ifndef SIMDNET_TENSOR_THREAD_SCRATCH_H_
#define SIMDNET_TENSOR_THREAD_SCRATCH_H_

#include <algorithm>
#include <cstddef>

#include "hwy/aligned_allocator.h"

namespace simdnet {
namespace detail {

// Returns this thread's 64-byte aligned scratch buffer `slot` with room for at least n floats.
// Slot is the caller's enum class of scratch slots, ending in kNumSlots: each user of scratch
// names its own slots (distinct users that can be live at the same time on one thread use
// distinct slots) and gets its own buffers. Contents are unspecified. The buffer only grows
// (malloc and page faults are paid once, not per call) and stays valid until the next call
// with the same slot on the same thread.
template <class Slot>
inline float* ThreadScratch(Slot slot, size_t n) {
  constexpr size_t kNumSlots = static_cast<size_t>(Slot::kNumSlots);
  struct Buffers {
    hwy::AlignedFreeUniquePtr<float[]> ptr[kNumSlots];
    size_t capacity[kNumSlots] = {};
  };
  thread_local Buffers buffers;
  const size_t i = static_cast<size_t>(slot);
  if (buffers.capacity[i] < n) {
    const size_t capacity = std::max(n, buffers.capacity[i] + buffers.capacity[i] / 2);
    buffers.ptr[i] = hwy::AllocateAligned<float>(capacity);
    buffers.capacity[i] = capacity;
  }
  return buffers.ptr[i].get();
}

}  // namespace detail
}  // namespace simdnet

#endif  // SIMDNET_TENSOR_THREAD_SCRATCH_H_
