// Project-wide Highway target policy. Every foreach_target translation unit, and every test or
// benchmark that loops over hwy::SupportedAndGeneratedTargets(), includes this first so that
// the targets compiled match everywhere (the gemma GEMMA_DISABLED_TARGETS idiom).
#ifndef SIMDNET_TENSOR_SIMD_TARGETS_H_
#define SIMDNET_TENSOR_SIMD_TARGETS_H_

// The mission names AVX-512 (AVX3), AVX2, SSE4 and scalar. Debian's Highway 1.0.3 would also
// compile SSSE3; dropping it cuts per-target compile work by a fifth. SCALAR stays: it is the
// portable reference target.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS HWY_SSSE3
#endif

#include <cstdint>
#include <string>

#include "hwy/targets.h"

namespace simdnet {

// Returns the name of the SIMD target the dispatched kernels run on ("AVX3", "AVX2", "SSE4",
// "SCALAR"): the best target that this machine supports among those compiled under the policy
// above (better targets have lower bit values; dispatch picks the lowest set bit).
inline std::string BestTargetName() {
  const int64_t bits = static_cast<int64_t>(hwy::SupportedTargets()) & HWY_TARGETS;
  return hwy::TargetName(static_cast<uint32_t>(bits & -bits));
}

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_SIMD_TARGETS_H_
