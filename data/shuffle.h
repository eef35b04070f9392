// Seeded per-epoch sample order: a Fisher-Yates shuffle driven by Philox, so the order depends
// only on (seed, epoch, n) and never on thread count or platform.
#ifndef SIMDNET_DATA_SHUFFLE_H_
#define SIMDNET_DATA_SHUFFLE_H_

#include <cstdint>
#include <vector>

namespace simdnet {

// Returns the visiting order of samples [0, n) for `epoch`: the identity if !shuffle, else a
// uniformly random permutation determined by (seed, epoch). Requires: n >= 0.
std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, uint64_t epoch, bool shuffle);

}  // namespace simdnet

#endif  // SIMDNET_DATA_SHUFFLE_H_
