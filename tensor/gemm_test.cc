// Per-ISA tests of Sgemm against the double-precision reference: every transpose combination,
// alpha/beta, odd and block-crossing sizes, padded leading dimensions, and determinism across
// thread counts.
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/gemm_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "tensor/gemm-inl.h"
#include "tensor/gemm_reference.h"
#include "tensor/rng.h"
#include "tensor/test_util.h"
#include "tensor/thread_pool.h"

// Non-SIMD helpers, compiled once.
#ifndef SIMDNET_TENSOR_GEMM_TEST_HELPERS_
#define SIMDNET_TENSOR_GEMM_TEST_HELPERS_
namespace simdnet {
namespace gemm_test {

struct GemmCase {
  bool trans_a, trans_b;
  size_t m, n, k;
  float alpha, beta;
  size_t pad;  // extra elements per row of A, B and C (leading dimension > width)
};

// Runs one case with `pool` and checks it against GemmReference<double> with the bound
// |c - ref| <= (k + 4) * eps_f32 * sum|terms| (FMA accumulation of k products, alpha folded
// into one operand, one beta term). Returns the computed C for determinism checks.
inline std::vector<float> CheckCase(const GemmCase& gc, ThreadPool& pool, uint64_t seed) {
  const size_t a_rows = gc.trans_a ? gc.k : gc.m, a_cols = gc.trans_a ? gc.m : gc.k;
  const size_t b_rows = gc.trans_b ? gc.n : gc.k, b_cols = gc.trans_b ? gc.k : gc.n;
  const size_t lda = a_cols + gc.pad, ldb = b_cols + gc.pad, ldc = gc.n + gc.pad;
  // +1 so that data() is never null, and to offset the arrays by one float (misalignment).
  std::vector<float> a(a_rows * lda + 1), b(b_rows * ldb + 1), c(gc.m * ldc + 1);
  Rng rng(seed);
  rng.FillUniform(a.data(), a.size(), -1.0f, 1.0f);
  rng.FillUniform(b.data(), b.size(), -1.0f, 1.0f);
  rng.FillUniform(c.data(), c.size(), -1.0f, 1.0f);
  if (gc.beta == 0.0f) {
    // beta == 0 must ignore C entirely, even NaN.
    for (size_t i = 0; i < gc.m * ldc; ++i) c[1 + i] = std::numeric_limits<float>::quiet_NaN();
  }
  std::vector<double> ref(gc.m * ldc);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = c[1 + i];
  std::vector<double> abs_terms;
  GemmReference<double>(gc.trans_a, gc.trans_b, gc.m, gc.n, gc.k, gc.alpha, a.data() + 1, lda,
                        b.data() + 1, ldb, gc.beta, ref.data(), ldc, &abs_terms);
  Sgemm(gc.trans_a, gc.trans_b, gc.m, gc.n, gc.k, gc.alpha, a.data() + 1, lda, b.data() + 1, ldb,
        gc.beta, c.data() + 1, ldc, pool);
  const double eps = std::numeric_limits<float>::epsilon();
  size_t bad = 0;
  for (size_t i = 0; i < gc.m; ++i) {
    for (size_t j = 0; j < gc.n; ++j) {
      const double got = c[1 + i * ldc + j], want = ref[i * ldc + j];
      const double tol = (gc.k + 4) * eps * abs_terms[i * gc.n + j] + 1e-30;
      if (!(std::abs(got - want) <= tol) && bad++ < 3) {
        ADD_FAILURE() << "Sgemm ta=" << gc.trans_a << " tb=" << gc.trans_b << " m=" << gc.m
                      << " n=" << gc.n << " k=" << gc.k << " alpha=" << gc.alpha
                      << " beta=" << gc.beta << " pad=" << gc.pad << ": C(" << i << "," << j
                      << ") = " << got << ", reference " << want << ", bound " << tol;
      }
    }
    // Padding columns of C must be untouched.
    for (size_t j = gc.n; j < ldc && i * ldc + j < gc.m * ldc; ++j) {
      const double got = c[1 + i * ldc + j], want = ref[i * ldc + j];
      if (!(got == want || (std::isnan(got) && std::isnan(want))) && bad++ < 3) {
        ADD_FAILURE() << "Sgemm wrote padding column " << j << " of row " << i;
      }
    }
  }
  return std::vector<float>(c.begin() + 1, c.end());
}

}  // namespace gemm_test
}  // namespace simdnet
#endif  // SIMDNET_TENSOR_GEMM_TEST_HELPERS_

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

using gemm_test::CheckCase;
using gemm_test::GemmCase;

// Small and odd sizes around the register tile (MR up to 12, NR up to 32) in all four
// transpose modes, including empty dimensions and k == 0 (C = beta * C).
void TestSgemmSmallSizes() {
  ThreadPool pool(1);
  const size_t sizes[] = {0, 1, 3, 7, 13, 17, 33};
  uint64_t seed = 1;
  for (int mode = 0; mode < 4; ++mode) {
    for (size_t m : sizes) {
      for (size_t n : sizes) {
        for (size_t k : {size_t{0}, size_t{1}, size_t{5}, size_t{19}}) {
          CheckCase({(mode & 1) != 0, (mode & 2) != 0, m, n, k, 1.0f, 0.0f, 0}, pool, ++seed);
        }
      }
    }
  }
}

// alpha/beta combinations, leading dimensions larger than the width, and sizes that cross the
// KC (k > 256) and MC blocks, so that later K blocks accumulate onto C.
void TestSgemmAlphaBetaAndBlocks() {
  ThreadPool pool(1);
  uint64_t seed = 100;
  for (int mode = 0; mode < 4; ++mode) {
    const bool ta = (mode & 1) != 0, tb = (mode & 2) != 0;
    CheckCase({ta, tb, 37, 45, 300, 1.0f, 1.0f, 3}, pool, ++seed);
    CheckCase({ta, tb, 29, 51, 67, -0.5f, 2.0f, 5}, pool, ++seed);
    CheckCase({ta, tb, 501, 35, 270, 0.75f, 0.0f, 1}, pool, ++seed);
    CheckCase({ta, tb, 19, 23, 11, 0.0f, -1.5f, 0}, pool, ++seed);
    CheckCase({ta, tb, 19, 23, 0, 2.0f, 0.0f, 2}, pool, ++seed);
  }
}

// Two threads give the same bits as one (the split never changes the summation order), and
// both match the reference.
void TestSgemmThreadCountInvariant() {
  ThreadPool pool1(1), pool2(2);
  for (int mode = 0; mode < 4; ++mode) {
    const GemmCase gc{(mode & 1) != 0, (mode & 2) != 0, 130, 97, 263, 1.25f, 0.5f, 2};
    const std::vector<float> c1 = CheckCase(gc, pool1, 7 + mode);
    const std::vector<float> c2 = CheckCase(gc, pool2, 7 + mode);
    ASSERT_EQ(c1.size(), c2.size());
    for (size_t i = 0; i < c1.size(); ++i) {
      if (std::isnan(c1[i]) && std::isnan(c2[i])) continue;
      ASSERT_EQ(c1[i], c2[i]) << "mode " << mode << " element " << i;
    }
  }
}

// Random A, B and C for `gc` with its padded leading dimensions, each one float longer than
// needed: the tests pass data() + 1, so no operand is vector-aligned.
struct MisalignedOperands {
  MisalignedOperands(const GemmCase& gc, uint64_t seed)
      : lda((gc.trans_a ? gc.m : gc.k) + gc.pad),
        ldb((gc.trans_b ? gc.k : gc.n) + gc.pad),
        ldc(gc.n + gc.pad),
        a((gc.trans_a ? gc.k : gc.m) * lda + 1),
        b((gc.trans_b ? gc.n : gc.k) * ldb + 1),
        c0(gc.m * ldc + 1) {
    Rng rng(seed);
    rng.FillUniform(a.data(), a.size(), -1.0f, 1.0f);
    rng.FillUniform(b.data(), b.size(), -1.0f, 1.0f);
    rng.FillUniform(c0.data(), c0.size(), -1.0f, 1.0f);
  }
  size_t lda, ldb, ldc;
  std::vector<float> a, b, c0;
};

// The unpacked one-thread path (SgemmInPlace: A and full-width B strips read in place) gives
// the bits of the packed path in every transpose mode, with beta, K blocks, partial strips and
// tiles, padded leading dimensions and misaligned operands.
void TestSgemmInPlaceMatchesPacked() {
  ThreadPool pool(1);
  const GemmCase cases[] = {
      {false, false, 120, 32, 400, 1.0f, 1.0f, 0}, {false, false, 32, 400, 120, 1.0f, 0.0f, 0},
      {true, false, 120, 400, 32, 1.0f, 1.0f, 0},  {false, true, 1, 120, 400, 1.0f, 1.0f, 0},
      {false, false, 17, 33, 300, 1.0f, 0.5f, 3},  {true, true, 13, 7, 5, 1.0f, 0.0f, 1},
      {true, false, 9, 65, 513, 1.0f, -1.0f, 2},   {false, true, 31, 47, 19, 1.0f, 2.0f, 5},
      {false, false, 1, 1, 1, 1.0f, 0.0f, 0},      {true, true, 8, 32, 256, 1.0f, 1.0f, 0},
  };
  uint64_t seed = 300;
  for (const GemmCase& gc : cases) {
    const MisalignedOperands op(gc, ++seed);
    const size_t lda = op.lda, ldb = op.ldb, ldc = op.ldc;
    std::vector<float> packed = op.c0, in_place = op.c0;
    SgemmImpl(gc.trans_a, gc.trans_b, gc.m, gc.n, gc.k, 1.0f, op.a.data() + 1, lda, op.b.data() + 1,
              ldb, gc.beta, packed.data() + 1, ldc, pool, /*in_place=*/false);
    SgemmInPlace(gc.trans_a, gc.trans_b, gc.m, gc.n, gc.k, op.a.data() + 1, lda, op.b.data() + 1,
                 ldb, gc.beta, in_place.data() + 1, ldc);
    for (size_t i = 0; i < packed.size(); ++i) {
      ASSERT_EQ(packed[i], in_place[i])
          << "ta=" << gc.trans_a << " tb=" << gc.trans_b << " m=" << gc.m << " n=" << gc.n
          << " k=" << gc.k << " element " << i;
    }
    // And the public entry point, which takes the in-place path for these, is right.
    CheckCase(gc, pool, seed);
  }
}

// On several threads, a GEMM with alpha == 1 and a small A runs as column slices of whole NR
// strips, each read in place by its thread: the bits of the packed one-thread path, in every
// transpose mode, with a partial last strip, K blocks, beta, padded and misaligned operands.
void TestSgemmColumnSlicesMatchPacked() {
  ThreadPool pool1(1), pool2(2), pool3(3);
  const GemmCase cases[] = {
      {false, false, 37, 97, 300, 1.0f, 1.0f, 3},
      {true, false, 64, 1000, 64, 1.0f, 0.0f, 0},
      {false, true, 9, 515, 130, 1.0f, -0.5f, 1},
      {true, true, 128, 70, 129, 1.0f, 1.0f, 2},
  };
  uint64_t seed = 400;
  for (const GemmCase& gc : cases) {
    ASSERT_GE(gc.m * gc.n * gc.k, detail::kMinParallelMacs);  // else one thread computes it
    const MisalignedOperands op(gc, ++seed);
    const size_t lda = op.lda, ldb = op.ldb, ldc = op.ldc;
    std::vector<float> packed = op.c0;
    SgemmImpl(gc.trans_a, gc.trans_b, gc.m, gc.n, gc.k, 1.0f, op.a.data() + 1, lda, op.b.data() + 1,
              ldb, gc.beta, packed.data() + 1, ldc, pool1, /*in_place=*/false);
    for (ThreadPool* pool : {&pool2, &pool3}) {
      std::vector<float> sliced = op.c0;
      SgemmImpl(gc.trans_a, gc.trans_b, gc.m, gc.n, gc.k, 1.0f, op.a.data() + 1, lda,
                op.b.data() + 1, ldb, gc.beta, sliced.data() + 1, ldc, *pool);
      for (size_t i = 0; i < packed.size(); ++i) {
        ASSERT_EQ(packed[i], sliced[i])
            << "threads=" << pool->NumThreads() << " ta=" << gc.trans_a << " tb=" << gc.trans_b
            << " m=" << gc.m << " n=" << gc.n << " element " << i;
      }
    }
    CheckCase(gc, pool2, seed);
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(SgemmTest);
HWY_EXPORT_AND_TEST_P(SgemmTest, TestSgemmSmallSizes);
HWY_EXPORT_AND_TEST_P(SgemmTest, TestSgemmAlphaBetaAndBlocks);
HWY_EXPORT_AND_TEST_P(SgemmTest, TestSgemmThreadCountInvariant);
HWY_EXPORT_AND_TEST_P(SgemmTest, TestSgemmInPlaceMatchesPacked);
HWY_EXPORT_AND_TEST_P(SgemmTest, TestSgemmColumnSlicesMatchPacked);
}  // namespace simdnet
#endif  // HWY_ONCE
