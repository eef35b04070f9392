// Dispatch table for tensor/elementwise.h: one per-target entry point per kernel (compiled for
// every target by foreach_target), and the public functions that split work into fixed chunks.
#include "tensor/elementwise.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tensor/simd_targets.h"  // must precede foreach_target (target policy)

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/elementwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "tensor/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void FillT(float* y, size_t n, float value) { FillSpan(y, n, value); }
void CopyT(const float* x, float* y, size_t n) { CopySpan(x, y, n); }
void AddT(const float* a, const float* b, float* y, size_t n) { MapBinary(a, b, y, n, AddOp()); }
void SubT(const float* a, const float* b, float* y, size_t n) { MapBinary(a, b, y, n, SubOp()); }
void MulT(const float* a, const float* b, float* y, size_t n) { MapBinary(a, b, y, n, MulOp()); }
void AddScalarT(const float* x, float s, float* y, size_t n) { MapUnary(x, y, n, AddScalarOp{s}); }
void MulScalarT(const float* x, float s, float* y, size_t n) { MapUnary(x, y, n, MulScalarOp{s}); }
void AxpyT(float alpha, const float* x, float* y, size_t n) { AxpySpan(alpha, x, y, n); }
void ExpT(const float* x, float* y, size_t n) { MapUnary(x, y, n, ExpOp()); }
void LogT(const float* x, float* y, size_t n) { MapUnary(x, y, n, LogOp()); }
void ReluForwardT(const float* x, float* y, size_t n) { MapUnary(x, y, n, ReluOp()); }
void ReluBackwardT(const float* x, const float* dy, float* dx, size_t n) {
  MapBinary(x, dy, dx, n, ReluBackwardOp());
}
void LeakyReluForwardT(const float* x, float slope, float* y, size_t n) {
  MapUnary(x, y, n, LeakyReluOp{slope});
}
void LeakyReluBackwardT(const float* x, float slope, const float* dy, float* dx, size_t n) {
  MapBinary(x, dy, dx, n, LeakyReluBackwardOp{slope});
}
void TanhForwardT(const float* x, float* y, size_t n) { MapUnary(x, y, n, TanhOp()); }
void TanhBackwardT(const float* y, const float* dy, float* dx, size_t n) {
  MapBinary(y, dy, dx, n, TanhBackwardOp());
}
void SigmoidForwardT(const float* x, float* y, size_t n) { MapUnary(x, y, n, SigmoidOp()); }
void SigmoidBackwardT(const float* y, const float* dy, float* dx, size_t n) {
  MapBinary(y, dy, dx, n, SigmoidBackwardOp());
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "tensor/thread_pool.h"

namespace simdnet {

HWY_EXPORT(FillT);
HWY_EXPORT(CopyT);
HWY_EXPORT(AddT);
HWY_EXPORT(SubT);
HWY_EXPORT(MulT);
HWY_EXPORT(AddScalarT);
HWY_EXPORT(MulScalarT);
HWY_EXPORT(AxpyT);
HWY_EXPORT(ExpT);
HWY_EXPORT(LogT);
HWY_EXPORT(ReluForwardT);
HWY_EXPORT(ReluBackwardT);
HWY_EXPORT(LeakyReluForwardT);
HWY_EXPORT(LeakyReluBackwardT);
HWY_EXPORT(TanhForwardT);
HWY_EXPORT(TanhBackwardT);
HWY_EXPORT(SigmoidForwardT);
HWY_EXPORT(SigmoidBackwardT);

void Fill(float* y, size_t n, float value, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) { HWY_DYNAMIC_DISPATCH(FillT)(y + i, c, value); });
}

void Copy(const float* x, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) { HWY_DYNAMIC_DISPATCH(CopyT)(x + i, y + i, c); });
}

void Add(const float* a, const float* b, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(AddT)(a + i, b + i, y + i, c);
  });
}

void Sub(const float* a, const float* b, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(SubT)(a + i, b + i, y + i, c);
  });
}

void Mul(const float* a, const float* b, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(MulT)(a + i, b + i, y + i, c);
  });
}

void AddScalar(const float* x, float s, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(AddScalarT)(x + i, s, y + i, c);
  });
}

void MulScalar(const float* x, float s, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(MulScalarT)(x + i, s, y + i, c);
  });
}

void Axpy(float alpha, const float* x, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(AxpyT)(alpha, x + i, y + i, c);
  });
}

void Scale(float alpha, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(MulScalarT)(y + i, alpha, y + i, c);
  });
}

void Exp(const float* x, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) { HWY_DYNAMIC_DISPATCH(ExpT)(x + i, y + i, c); });
}

void Log(const float* x, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) { HWY_DYNAMIC_DISPATCH(LogT)(x + i, y + i, c); });
}

void ReluForward(const float* x, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(ReluForwardT)(x + i, y + i, c);
  });
}

void ReluBackward(const float* x, const float* dy, float* dx, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(ReluBackwardT)(x + i, dy + i, dx + i, c);
  });
}

void LeakyReluForward(const float* x, float slope, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(LeakyReluForwardT)(x + i, slope, y + i, c);
  });
}

void LeakyReluBackward(const float* x, float slope, const float* dy, float* dx, size_t n,
                       ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(LeakyReluBackwardT)(x + i, slope, dy + i, dx + i, c);
  });
}

void TanhForward(const float* x, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(TanhForwardT)(x + i, y + i, c);
  });
}

void TanhBackward(const float* y, const float* dy, float* dx, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(TanhBackwardT)(y + i, dy + i, dx + i, c);
  });
}

void SigmoidForward(const float* x, float* y, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(SigmoidForwardT)(x + i, y + i, c);
  });
}

void SigmoidBackward(const float* y, const float* dy, float* dx, size_t n, ThreadPool* pool) {
  ForEachChunk(n, pool, [&](size_t i, size_t c) {
    HWY_DYNAMIC_DISPATCH(SigmoidBackwardT)(y + i, dy + i, dx + i, c);
  });
}

}  // namespace simdnet
#endif  // HWY_ONCE
