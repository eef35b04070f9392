// Naive reference GEMM templated on the accumulation type (double in tests), which also returns
// the sum of absolute values of the terms of each output, the scale of its rounding error bound.
#ifndef SIMDNET_TENSOR_GEMM_REFERENCE_H_
#define SIMDNET_TENSOR_GEMM_REFERENCE_H_

#include <cmath>
#include <cstddef>
#include <vector>

namespace simdnet {

// Computes c = alpha * op(a) * op(b) + beta * c in precision T, with the same shapes and
// leading dimensions as simdnet::Sgemm (gemm.h); beta == 0 ignores the old c.
// If abs_terms is non-null it is resized to m * n and receives, per output (i, j), the sum
// |alpha| * sum_p |op(a)(i,p) * op(b)(p,j)| + |beta * c(i,j)| (the scale of the error bound).
template <typename T>
void GemmReference(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, T alpha,
                   const float* a, size_t lda, const float* b, size_t ldb, T beta, T* c,
                   size_t ldc, std::vector<T>* abs_terms = nullptr) {
  if (abs_terms != nullptr) abs_terms->assign(m * n, T(0));
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      T sum = 0, abs_sum = 0;
      for (size_t p = 0; p < k; ++p) {
        const T av = static_cast<T>(trans_a ? a[p * lda + i] : a[i * lda + p]);
        const T bv = static_cast<T>(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
        sum += av * bv;
        abs_sum += std::abs(av * bv);
      }
      T& out = c[i * ldc + j];
      const T old = beta == T(0) ? T(0) : beta * out;
      out = alpha * sum + old;
      if (abs_terms != nullptr) (*abs_terms)[i * n + j] = std::abs(alpha) * abs_sum + std::abs(old);
    }
  }
}

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_GEMM_REFERENCE_H_
