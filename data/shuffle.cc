// Fisher-Yates shuffle over Philox draws (tensor/rng.h).
#include "data/shuffle.h"

#include <numeric>
#include <utility>

#include "tensor/rng.h"
#include "tensor/status_macros.h"

namespace simdnet {

std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, uint64_t epoch, bool shuffle) {
  SIMDNET_CHECK(n >= 0);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle) return order;
  // Stream 0x5348 ("SH") keeps shuffle draws independent of the per-sample augmentation
  // streams, which use Rng(seed, epoch).
  Rng rng = Rng(seed, 0x5348).Split(epoch);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace simdnet
