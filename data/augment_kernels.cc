// Dynamic dispatch table for data/augment_kernels.h (one HWY_EXPORT per kernel).
#include "data/augment_kernels.h"

#include "tensor/simd_targets.h"  // must precede foreach_target: project target policy
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "data/augment_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "data/augment_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void U8ToFloatT(const uint8_t* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n, float scale) {
  U8ToFloatImpl(in, out, n, scale);
}
void AffineClampT(const float* in, float* out, size_t n, float scale, float shift, float lo,
                  float hi) {
  AffineClampImpl(in, out, n, scale, shift, lo, hi);
}
void ColorMatrix3ClampT(const float* in, float* out, size_t plane, const float* m, float lo,
                        float hi) {
  ColorMatrix3ClampImpl(in, out, plane, m, lo, hi);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(U8ToFloatT);
HWY_EXPORT(AffineClampT);
HWY_EXPORT(ColorMatrix3ClampT);

void U8ToFloat(const uint8_t* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n, float scale) {
  HWY_DYNAMIC_DISPATCH(U8ToFloatT)(in, out, n, scale);
}
void AffineClamp(const float* in, float* out, size_t n, float scale, float shift, float lo,
                 float hi) {
  HWY_DYNAMIC_DISPATCH(AffineClampT)(in, out, n, scale, shift, lo, hi);
}
void ColorMatrix3Clamp(const float* in, float* out, size_t plane, const float* m, float lo,
                       float hi) {
  HWY_DYNAMIC_DISPATCH(ColorMatrix3ClampT)(in, out, plane, m, lo, hi);
}

}  // namespace simdnet
#endif  // HWY_ONCE
