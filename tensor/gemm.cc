// SGEMM dispatch table: per-target entry points around gemm-inl.h and the public Sgemm, which
// runs the best target the CPU supports.
#include "tensor/gemm.h"

#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "tensor/gemm-inl.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void SgemmT(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha,
            const float* a, size_t lda, const float* b, size_t ldb, float beta, float* c,
            size_t ldc, ThreadPool& pool) {
  SgemmImpl(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pool);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {

HWY_EXPORT(SgemmT);

void Sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha,
           const float* a, size_t lda, const float* b, size_t ldb, float beta, float* c,
           size_t ldc, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(SgemmT)(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                               pool);
}

}  // namespace simdnet
#endif  // HWY_ONCE
