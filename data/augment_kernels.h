// Per-pixel SIMD kernels used by augmentation, normalization and batch assembly: uint8 -> float
// conversion, a clamped affine map of one plane, and a clamped 3x4 colour matrix over RGB planes.
// Public and SIMD-free; the Highway code is in augment_kernels-inl.h.
#ifndef SIMDNET_DATA_AUGMENT_KERNELS_H_
#define SIMDNET_DATA_AUGMENT_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "hwy/base.h"

namespace simdnet {

// Computes out[i] = in[i] * scale for i in [0, n) (uint8 pixels to float, e.g. scale = 1/255).
// Requires: in and out do not overlap.
void U8ToFloat(const uint8_t* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n, float scale);

// Computes out[i] = min(max(in[i] * scale + shift, lo), hi) for i in [0, n).
// in == out (in place) is allowed; other overlaps are not. Requires: lo <= hi.
void AffineClamp(const float* in, float* out, size_t n, float scale, float shift, float lo,
                 float hi);

// Applies a colour matrix to an image of 3 planes (R, G, B) of `plane` floats each:
// out_c[p] = clamp(m[4c] * r[p] + m[4c+1] * g[p] + m[4c+2] * b[p] + m[4c+3], lo, hi).
// in == out (in place) is allowed; other overlaps are not. Requires: m has 12 entries, lo <= hi.
void ColorMatrix3Clamp(const float* in, float* out, size_t plane, const float* m, float lo,
                       float hi);

}  // namespace simdnet

#endif  // SIMDNET_DATA_AUGMENT_KERNELS_H_
