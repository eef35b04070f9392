// Dispatch table for tensor/reduce.h: one per-target entry point per reduction (compiled for
// every target by foreach_target) and the public functions, each one dynamic dispatch.
#include "tensor/reduce.h"

#include <cstddef>
#include <cstdint>

#include "tensor/simd_targets.h"  // must precede foreach_target (target policy)

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/reduce.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "tensor/reduce-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

float SumT(const float* x, size_t n) { return SumSpan(x, n); }
float MaxT(const float* x, size_t n) { return MaxSpan(x, n); }
float L1NormT(const float* x, size_t n) { return L1NormSpan(x, n); }
float SquaredL2NormT(const float* x, size_t n) { return SquaredL2NormSpan(x, n); }
float DotT(const float* a, const float* b, size_t n) { return DotSpan(a, b, n); }
void SumAxisT(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  SumAxisImpl(x, outer, axis, inner, y);
}
void MeanAxisT(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  HWY_DASSERT(axis >= 1);
  SumAxisImpl(x, outer, axis, inner, y);
  MapUnary(y, y, outer * inner, MulScalarOp{1.0f / static_cast<float>(axis)});
}
void MaxAxisT(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  MaxAxisImpl(x, outer, axis, inner, y);
}
void ArgmaxAxisT(const float* x, size_t outer, size_t axis, size_t inner, int64_t* idx) {
  ArgmaxAxisImpl(x, outer, axis, inner, idx);
}
void SoftmaxAxisT(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  SoftmaxAxisImpl(x, outer, axis, inner, y);
}
void LogSoftmaxAxisT(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  LogSoftmaxAxisImpl(x, outer, axis, inner, y);
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(SumT);
HWY_EXPORT(MaxT);
HWY_EXPORT(L1NormT);
HWY_EXPORT(SquaredL2NormT);
HWY_EXPORT(DotT);
HWY_EXPORT(SumAxisT);
HWY_EXPORT(MeanAxisT);
HWY_EXPORT(MaxAxisT);
HWY_EXPORT(ArgmaxAxisT);
HWY_EXPORT(SoftmaxAxisT);
HWY_EXPORT(LogSoftmaxAxisT);

float Sum(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(SumT)(x, n); }
float Max(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(MaxT)(x, n); }
float L1Norm(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(L1NormT)(x, n); }
float SquaredL2Norm(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(SquaredL2NormT)(x, n); }
float Dot(const float* a, const float* b, size_t n) { return HWY_DYNAMIC_DISPATCH(DotT)(a, b, n); }
void SumAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  HWY_DYNAMIC_DISPATCH(SumAxisT)(x, outer, axis, inner, y);
}
void MeanAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  HWY_DYNAMIC_DISPATCH(MeanAxisT)(x, outer, axis, inner, y);
}
void MaxAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  HWY_DYNAMIC_DISPATCH(MaxAxisT)(x, outer, axis, inner, y);
}
void ArgmaxAxis(const float* x, size_t outer, size_t axis, size_t inner, int64_t* idx) {
  HWY_DYNAMIC_DISPATCH(ArgmaxAxisT)(x, outer, axis, inner, idx);
}
void SoftmaxAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  HWY_DYNAMIC_DISPATCH(SoftmaxAxisT)(x, outer, axis, inner, y);
}
void LogSoftmaxAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y) {
  HWY_DYNAMIC_DISPATCH(LogSoftmaxAxisT)(x, outer, axis, inner, y);
}

}  // namespace simdnet
#endif  // HWY_ONCE
