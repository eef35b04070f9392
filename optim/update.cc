// Run-time dispatch of the fused optimizer update kernels (optim/update.h) to
// the best target.
#include "optim/update.h"

#include "tensor/simd_targets.h"  // Before any Highway target header.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optim/update.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "optim/update-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void MomentumUpdateEntry(const MomentumCoefficients& k,
                         const float* HWY_RESTRICT g, float* HWY_RESTRICT x,
                         float* HWY_RESTRICT v, size_t n) {
  MomentumUpdateT(k, g, x, v, n);
}
void SgdUpdateEntry(float l2, float decay, float t, const float* HWY_RESTRICT g,
                    float* HWY_RESTRICT x, size_t n) {
  SgdUpdateT(l2, decay, t, g, x, n);
}
void AdamUpdateEntry(const AdamCoefficients& k, const float* HWY_RESTRICT g,
                     float* HWY_RESTRICT x, float* HWY_RESTRICT m,
                     float* HWY_RESTRICT v, size_t n) {
  AdamUpdateT(k, g, x, m, v, n);
}
void RmspropUpdateEntry(const RmspropCoefficients& k,
                        const float* HWY_RESTRICT g, float* HWY_RESTRICT x,
                        float* HWY_RESTRICT sq, float* HWY_RESTRICT buf,
                        size_t n) {
  RmspropUpdateT(k, g, x, sq, buf, n);
}
void AdagradUpdateEntry(const AdagradCoefficients& k,
                        const float* HWY_RESTRICT g, float* HWY_RESTRICT x,
                        float* HWY_RESTRICT sum, size_t n) {
  AdagradUpdateT(k, g, x, sum, n);
}
float SumOfSquaresEntry(const float* x, size_t n) {
  return SumOfSquaresT(x, n);
}
void ScaleInPlaceEntry(float scale, float* x, size_t n) {
  ScaleInPlaceT(scale, x, n);
}
void ClampInPlaceEntry(float lo, float hi, float* x, size_t n) {
  ClampInPlaceT(lo, hi, x, n);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(MomentumUpdateEntry);
HWY_EXPORT(SgdUpdateEntry);
HWY_EXPORT(AdamUpdateEntry);
HWY_EXPORT(RmspropUpdateEntry);
HWY_EXPORT(AdagradUpdateEntry);
HWY_EXPORT(SumOfSquaresEntry);
HWY_EXPORT(ScaleInPlaceEntry);
HWY_EXPORT(ClampInPlaceEntry);

void MomentumUpdate(const MomentumCoefficients& k, const float* HWY_RESTRICT g,
                    float* HWY_RESTRICT x, float* HWY_RESTRICT v, size_t n) {
  HWY_DYNAMIC_DISPATCH(MomentumUpdateEntry)(k, g, x, v, n);
}
void SgdUpdate(float l2, float decay, float t, const float* HWY_RESTRICT g,
               float* HWY_RESTRICT x, size_t n) {
  HWY_DYNAMIC_DISPATCH(SgdUpdateEntry)(l2, decay, t, g, x, n);
}
void AdamUpdate(const AdamCoefficients& k, const float* HWY_RESTRICT g,
                float* HWY_RESTRICT x, float* HWY_RESTRICT m,
                float* HWY_RESTRICT v, size_t n) {
  HWY_DYNAMIC_DISPATCH(AdamUpdateEntry)(k, g, x, m, v, n);
}
void RmspropUpdate(const RmspropCoefficients& k, const float* HWY_RESTRICT g,
                   float* HWY_RESTRICT x, float* HWY_RESTRICT sq,
                   float* HWY_RESTRICT buf, size_t n) {
  HWY_DYNAMIC_DISPATCH(RmspropUpdateEntry)(k, g, x, sq, buf, n);
}
void AdagradUpdate(const AdagradCoefficients& k, const float* HWY_RESTRICT g,
                   float* HWY_RESTRICT x, float* HWY_RESTRICT sum, size_t n) {
  HWY_DYNAMIC_DISPATCH(AdagradUpdateEntry)(k, g, x, sum, n);
}
float SumOfSquares(const float* x, size_t n) {
  return HWY_DYNAMIC_DISPATCH(SumOfSquaresEntry)(x, n);
}
void ScaleInPlace(float scale, float* x, size_t n) {
  HWY_DYNAMIC_DISPATCH(ScaleInPlaceEntry)(scale, x, n);
}
void ClampInPlace(float lo, float hi, float* x, size_t n) {
  HWY_DYNAMIC_DISPATCH(ClampInPlaceEntry)(lo, hi, x, n);
}

}  // namespace simdnet
#endif  // HWY_ONCE
