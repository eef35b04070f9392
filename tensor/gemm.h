// SGEMM: single-precision general matrix multiply, row-major, with packing, cache blocking and a
// register-blocked Highway micro-kernel (gemm-inl.h), dispatched at run time, multi-threaded.
#ifndef SIMDNET_TENSOR_GEMM_H_
#define SIMDNET_TENSOR_GEMM_H_

#include <cstddef>

namespace simdnet {

class ThreadPool;

// Computes C = alpha * op(A) * op(B) + beta * C, all row-major.
//   op(A) is (m, k): A is (m, k) with leading dim lda >= k, or if trans_a, A is (k, m), lda >= m.
//   op(B) is (k, n): B is (k, n) with ldb >= n, or if trans_b, B is (n, k), ldb >= k.
//   C is (m, n) with ldc >= n.
// beta == 0 means C is overwritten (its old contents, even NaN, are ignored), as in BLAS.
// Any of m, n, k may be 0 (k == 0 gives C = beta * C). Work is split across `pool`; for a fixed
// thread count the result is bit-identical from run to run.
void Sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha,
           const float* a, size_t lda, const float* b, size_t ldb, float beta, float* c,
           size_t ldc, ThreadPool& pool);

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_GEMM_H_
