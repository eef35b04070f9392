// Plain double-precision references for data/augment_kernels.h, used by the per-target tests.
#ifndef SIMDNET_DATA_AUGMENT_KERNELS_REFERENCE_H_
#define SIMDNET_DATA_AUGMENT_KERNELS_REFERENCE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace simdnet {
namespace reference {

// out[i] = in[i] * scale, in double.
inline void U8ToFloat(const uint8_t* in, double* out, size_t n, double scale) {
  for (size_t i = 0; i < n; ++i) out[i] = in[i] * scale;
}

// out[i] = clamp(in[i] * scale + shift, lo, hi), in double.
inline void AffineClamp(const float* in, double* out, size_t n, double scale, double shift,
                        double lo, double hi) {
  for (size_t i = 0; i < n; ++i) out[i] = std::min(std::max(in[i] * scale + shift, lo), hi);
}

// out_c[p] = clamp(sum_k m[4c+k] * in_k[p] + m[4c+3], lo, hi) over 3 planes, in double.
inline void ColorMatrix3Clamp(const float* in, double* out, size_t plane, const float* m,
                              double lo, double hi) {
  for (size_t p = 0; p < plane; ++p) {
    for (int c = 0; c < 3; ++c) {
      double acc = m[4 * c + 3];
      for (int k = 0; k < 3; ++k) acc += static_cast<double>(m[4 * c + k]) * in[k * plane + p];
      out[c * plane + p] = std::min(std::max(acc, lo), hi);
    }
  }
}

}  // namespace reference
}  // namespace simdnet

#endif  // SIMDNET_DATA_AUGMENT_KERNELS_REFERENCE_H_
