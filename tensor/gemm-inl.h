// Per-target SGEMM building blocks: operand packing, the register-blocked micro-kernel with its
// fused epilogue (beta, per-row bias, ReLU), parameterized by how it reads its operands, the
// macro-kernel over packed panels, and the multi-threaded blocked driver. The convolution
// families (layers/conv_*-inl.h) reuse the packing, the micro-kernel and the macro-kernel.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_TENSOR_GEMM_INL_H_
#define SIMDNET_TENSOR_GEMM_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/aligned_allocator.h"
#include "hwy/base.h"
#include "hwy/cache_control.h"
#include "tensor/thread_pool.h"
#include "tensor/thread_scratch.h"

namespace simdnet {
namespace detail {

// SgemmImpl's scratch: the packed block of A (per task), the packed panel of B shared by all
// threads (the calling thread's slot), and SgemmInPlace's one packed strip of B.
enum class GemmSlot : size_t { kPackA, kSharedB, kStripB, kNumSlots };

inline size_t DivCeil(size_t a, size_t b) { return (a + b - 1) / b; }
inline size_t RoundUp(size_t a, size_t b) { return DivCeil(a, b) * b; }

// Below this many multiply-adds a GEMM runs on the calling thread only: waking workers costs
// more than it saves.
constexpr size_t kMinParallelMacs = size_t{1} << 18;

// A GEMM whose A and B (on several threads: A and one thread's column slice of B) together hold
// at most this many floats (4 MiB) and whose A block per K block (m x KC) at most
// kInPlaceMaxBlockFloats (512 KiB, half of the L2) reads its operands in place (SgemmInPlace)
// instead of packing them. Packing copies each
// element once for m (B) or n (A) multiply-adds: for the small matrices of a small network
// (LeNet-5's 400 -> 120 Linear at 32 samples) packing A cost as much as the multiply, and
// vgg-small's 3136 -> 128 Linear at batch 64 (64 rows of W times 3136 x 64 per thread) ran
// 1.5x faster in place (0.47 -> 0.32 ms with cold caches, Zen 5); a 512 x 512 x 512 product
// on one thread ran at 199-201 instead of 186 GFLOPS.
constexpr size_t kInPlaceMaxFloats = size_t{1} << 20;
constexpr size_t kInPlaceMaxBlockFloats = size_t{1} << 17;

}  // namespace detail
}  // namespace simdnet

#endif  // SIMDNET_TENSOR_GEMM_INL_H_

// Per-target part (toggle guard, Highway skeleton-inl.h idiom).
#if defined(SIMDNET_TENSOR_GEMM_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_TENSOR_GEMM_TOGGLE
#undef SIMDNET_TENSOR_GEMM_TOGGLE
#else
#define SIMDNET_TENSOR_GEMM_TOGGLE
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Register blocking. The micro-kernel keeps a kGemmMR x (2 vectors) tile of C in registers:
// 2*MR accumulators + 2 B vectors + 1 broadcast must fit the register file (32 on AVX-512,
// 16 on AVX2/SSE4), and 2*MR independent FMA chains hide the 4-cycle FMA latency on both pipes.
#if HWY_TARGET == HWY_SCALAR
constexpr size_t kGemmMR = 4;
#elif HWY_TARGET <= HWY_AVX3
constexpr size_t kGemmMR = 8;
#else
constexpr size_t kGemmMR = 6;
#endif

using GemmD = hn::ScalableTag<float>;

// Returns NR, the width of the micro-kernel's C tile (two vectors).
HWY_INLINE size_t GemmNR() { return 2 * hn::Lanes(GemmD()); }

// Cache blocking (Zen 4: 32 KiB L1d, 1 MiB L2 per core). KC keeps one packed B micro-panel
// (KC x NR floats) within half of L1 and one MR-row A micro-panel beside it; MC x KC of packed A
// (<= 256 KiB) stays in L2 while the B micro-panels stream over it; NC x KC of packed B lives in
// L2/L3.
HWY_INLINE size_t GemmKC() { return 256; }
HWY_INLINE size_t GemmMC() { return kGemmMR * (GemmNR() >= 32 ? 40 : 24); }
constexpr size_t kGemmNC = 3072;

// Epilogue applied when a tile of C is written. `beta` scales the old C (0: C is not read);
// `row_bias` (null: none) adds bias[row] and `relu` clamps at zero; callers pass them only with
// the last K block.
struct TileEpilogue {
  float beta;
  const float* row_bias;
  bool relu;
};

// Packs rows [0, mc) x columns [0, kc) of op(A) (A at `a`, already offset to the block origin),
// scaled by alpha, into kGemmMR-row strips: strip i holds kc groups of kGemmMR floats at
// dst + i * kGemmMR * kc; rows past mc are zero.
// trans == false: element (i, p) is a[i * lda + p]; true: a[p * lda + i].
inline void PackA(bool trans, const float* HWY_RESTRICT a, size_t lda, size_t mc, size_t kc,
                  float alpha, float* HWY_RESTRICT dst) {
  constexpr size_t kMR = kGemmMR;
  for (size_t is = 0; is < mc; is += kMR) {
    const size_t rows = std::min(kMR, mc - is);
    float* HWY_RESTRICT out = dst + is * kc;
    if (!trans) {
      for (size_t r = 0; r < rows; ++r) {
        const float* HWY_RESTRICT src = a + (is + r) * lda;
        for (size_t p = 0; p < kc; ++p) out[p * kMR + r] = alpha * src[p];
      }
      for (size_t r = rows; r < kMR; ++r) {
        for (size_t p = 0; p < kc; ++p) out[p * kMR + r] = 0.0f;
      }
    } else {
      for (size_t p = 0; p < kc; ++p) {
        const float* HWY_RESTRICT src = a + p * lda + is;
        float* HWY_RESTRICT o = out + p * kMR;
        for (size_t r = 0; r < rows; ++r) o[r] = alpha * src[r];
        for (size_t r = rows; r < kMR; ++r) o[r] = 0.0f;
      }
    }
  }
}

// Packs rows [0, kc) x columns [0, nc) of op(B) (B at `b`, offset to the block origin) into
// NR-column strips: strip j holds kc rows of NR floats at dst + j * NR * kc; columns past nc are
// zero. trans == false: element (p, j) is b[p * ldb + j]; true: b[j * ldb + p].
inline void PackB(bool trans, const float* HWY_RESTRICT b, size_t ldb, size_t kc, size_t nc,
                  float* HWY_RESTRICT dst) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const size_t NR = GemmNR();
  for (size_t js = 0; js < nc; js += NR) {
    const size_t cols = std::min(NR, nc - js);
    float* HWY_RESTRICT out = dst + js * kc;
    if (!trans) {
      if (cols == NR) {
        for (size_t p = 0; p < kc; ++p) {
          const float* HWY_RESTRICT src = b + p * ldb + js;
          hn::Store(hn::LoadU(d, src), d, out + p * NR);
          hn::Store(hn::LoadU(d, src + N), d, out + p * NR + N);
        }
      } else {
        for (size_t p = 0; p < kc; ++p) {
          const float* HWY_RESTRICT src = b + p * ldb + js;
          float* HWY_RESTRICT o = out + p * NR;
          for (size_t j = 0; j < cols; ++j) o[j] = src[j];
          for (size_t j = cols; j < NR; ++j) o[j] = 0.0f;
        }
      }
    } else {
      for (size_t j = 0; j < cols; ++j) {
        const float* HWY_RESTRICT src = b + (js + j) * ldb;
        for (size_t p = 0; p < kc; ++p) out[p * NR + j] = src[p];
      }
      for (size_t j = cols; j < NR; ++j) {
        for (size_t p = 0; p < kc; ++p) out[p * NR + j] = 0.0f;
      }
    }
  }
}

// Writes one row of the tile (two vectors) to c with the epilogue; `cols` < NR stores only the
// first cols columns (through a small buffer: never touches memory past the row end).
template <class D, class V = hn::Vec<D>>
HWY_INLINE void StoreTileRow(D d, V v0, V v1, float* HWY_RESTRICT c, size_t cols,
                             const TileEpilogue& ep, size_t row) {
  const size_t N = hn::Lanes(d);
  if (ep.row_bias != nullptr) {
    const V bias = hn::Set(d, ep.row_bias[row]);
    v0 = hn::Add(v0, bias);
    v1 = hn::Add(v1, bias);
  }
  if (cols == 2 * N) {
    if (ep.beta != 0.0f) {
      const V beta = hn::Set(d, ep.beta);
      v0 = hn::MulAdd(beta, hn::LoadU(d, c), v0);
      v1 = hn::MulAdd(beta, hn::LoadU(d, c + N), v1);
    }
    if (ep.relu) {
      v0 = hn::Max(v0, hn::Zero(d));
      v1 = hn::Max(v1, hn::Zero(d));
    }
    hn::StoreU(v0, d, c);
    hn::StoreU(v1, d, c + N);
    return;
  }
  if (ep.beta == 0.0f) {
    // Partial tile, C not read: masked stores never touch lanes past `cols` (other threads may
    // own those columns).
    if (ep.relu) {
      v0 = hn::Max(v0, hn::Zero(d));
      v1 = hn::Max(v1, hn::Zero(d));
    }
    if (cols >= N) {
      hn::StoreU(v0, d, c);
      if (cols > N) hn::BlendedStore(v1, hn::FirstN(d, cols - N), d, c + N);
    } else {
      hn::BlendedStore(v0, hn::FirstN(d, cols), d, c);
    }
    return;
  }
  // Partial tile with beta: the bias was already added in registers; finish in a buffer so
  // that no lane past `cols` is read (a full-vector load could cross the end of C).
  HWY_ALIGN float buf[2 * hn::MaxLanes(D())];
  hn::Store(v0, d, buf);
  hn::Store(v1, d, buf + N);
  for (size_t j = 0; j < cols; ++j) {
    float value = buf[j];
    if (ep.beta != 0.0f) value += ep.beta * c[j];
    if (ep.relu) value = std::max(value, 0.0f);
    c[j] = value;
  }
}

// Operand readers of the micro-kernel. Per step p of the reduction, the A reader gives the
// kRows scalars A(r, p) and the B reader the two vectors of B(p, :).

// A in PackA layout: kGemmMR floats per step.
struct PackedA {
  const float* HWY_RESTRICT ap;
  HWY_INLINE float Get(size_t r) const { return ap[r]; }
  HWY_INLINE void Step() { ap += kGemmMR; }  // strips always hold kGemmMR rows per step
  HWY_INLINE void NextSegment() {}
};

// A rows read in place: A(r, p) = rows[r][sg * stride + p] for segment sg (segments skip the
// gaps of a strided A, e.g. the columns of a padded image row that are not outputs).
// Requires: rows[r] valid for every r < kRows of the kernel (extra rows may alias row 0).
struct InPlaceRowsA {
  const float* rows[kGemmMR];
  size_t stride;
  size_t p;
  HWY_INLINE float Get(size_t r) const { return rows[r][p]; }
  HWY_INLINE void Step() { ++p; }
  HWY_INLINE void NextSegment() {
    p = 0;
    for (size_t r = 0; r < kGemmMR; ++r) rows[r] += stride;
  }
};

// op(A) read in place, unscaled: row-major A(r, p) = a[r * lda + p], or transposed (kTrans)
// A(r, p) = a[p * lda + r] (the kGemmMR values of a step are then adjacent).
template <bool kTrans>
struct InPlaceA {
  const float* HWY_RESTRICT a;
  size_t lda;
  HWY_INLINE float Get(size_t r) const { return kTrans ? a[r] : a[r * lda]; }
  HWY_INLINE void Step() { a += kTrans ? lda : 1; }
  HWY_INLINE void NextSegment() {}
};

// B rows read in place: step p reads the NR floats at b + p * ldb (a full strip of a row-major
// B, unaligned).
struct InPlaceRowsB {
  const float* HWY_RESTRICT b;
  size_t ldb;
  template <class D, class V = hn::Vec<D>>
  HWY_INLINE void Next(D d, V& b0, V& b1) {
    const size_t N = hn::Lanes(d);
    b0 = hn::LoadU(d, b);
    b1 = hn::LoadU(d, b + N);
    b += ldb;
  }
};

// B in PackB layout: NR floats per step, aligned.
struct PackedB {
  const float* HWY_RESTRICT bp;
  template <class D, class V = hn::Vec<D>>
  HWY_INLINE void Next(D d, V& b0, V& b1) {
    const size_t N = hn::Lanes(d);
    b0 = hn::Load(d, bp);
    b1 = hn::Load(d, bp + N);
    bp += 2 * N;
  }
};

// B read in place at per-step offsets (the direct convolutions: no packing at all): step p
// reads base + off[p] and, for the second vector, base + second + off[p] (second = N: NR
// consecutive floats; or two rows of N).
struct OffsetB {
  const float* HWY_RESTRICT base;
  const int32_t* HWY_RESTRICT off;
  size_t second;
  template <class D, class V = hn::Vec<D>>
  HWY_INLINE void Next(D d, V& b0, V& b1) {
    const float* HWY_RESTRICT b = base + *off++;
    b0 = hn::LoadU(d, b);
    b1 = hn::LoadU(d, b + second);
  }
};

// Computes the kRows x NR tile sum over nseg segments of kc steps of A(r, p) * B(p, :) (the
// readers above) and writes its first rows x cols entries to c (row stride ldc) with `ep`.
// kPrefetchC fetches the tile of C before the FMAs (for C rows far apart, often in L3).
// Requires: kc >= 1, 1 <= rows <= kRows <= kGemmMR, 1 <= cols <= NR.
template <size_t kRows, bool kPrefetchC, class AReader, class BReader>
HWY_INLINE void MicroKernel(size_t nseg, size_t kc, AReader a, BReader b,
                            float* HWY_RESTRICT c, size_t ldc, size_t rows, size_t cols,
                            const TileEpilogue& ep) {
  const GemmD d;
  using V = hn::Vec<GemmD>;
  const size_t N = hn::Lanes(d);
  V acc0[kRows], acc1[kRows];
  HWY_UNROLL(16)
  for (size_t r = 0; r < kRows; ++r) {
    acc0[r] = hn::Zero(d);
    acc1[r] = hn::Zero(d);
    // The tile of C is read/written only after kc steps; fetching it now hides the cache
    // misses behind the FMAs.
    if (kPrefetchC && r < rows) {
      hwy::Prefetch(c + r * ldc);
      hwy::Prefetch(c + r * ldc + 2 * N - 1);
    }
  }
  for (size_t sg = 0; sg < nseg; ++sg) {
    for (size_t p = 0; p < kc; ++p) {
      V b0, b1;
      b.Next(d, b0, b1);
      HWY_UNROLL(16)
      for (size_t r = 0; r < kRows; ++r) {
        const V av = hn::Set(d, a.Get(r));
        acc0[r] = hn::MulAdd(av, b0, acc0[r]);
        acc1[r] = hn::MulAdd(av, b1, acc1[r]);
      }
      a.Step();
    }
    a.NextSegment();
  }
  HWY_UNROLL(16)
  for (size_t r = 0; r < kRows; ++r) {
    if (r < rows) StoreTileRow(d, acc0[r], acc1[r], c + r * ldc, cols, ep, r);
  }
}

// Runs MicroKernel<rows> for 1 <= rows <= kRows, so a strip with fewer valid rows (the last
// one of an M not divisible by kGemmMR) does only the FMAs it needs.
template <size_t kRows, bool kPrefetchC, class AReader, class BReader>
HWY_INLINE void MicroKernelRows(size_t nseg, size_t kc, AReader a, BReader b,
                                float* HWY_RESTRICT c, size_t ldc, size_t rows, size_t cols,
                                const TileEpilogue& ep) {
  if constexpr (kRows > 1) {
    if (rows < kRows) {
      MicroKernelRows<kRows - 1, kPrefetchC>(nseg, kc, a, b, c, ldc, rows, cols, ep);
      return;
    }
  }
  MicroKernel<kRows, kPrefetchC>(nseg, kc, a, b, c, ldc, rows, cols, ep);
}

// Multiplies a packed A block (mc rows, PackA layout) by a packed B panel (nc columns, PackB
// layout) over kc and writes the mc x nc result to c (row stride ldc) with `ep` (its row_bias
// indexed from the block's first row).
inline void MacroKernel(size_t mc, size_t nc, size_t kc, const float* HWY_RESTRICT apack,
                        const float* HWY_RESTRICT bpack, float* HWY_RESTRICT c, size_t ldc,
                        const TileEpilogue& ep) {
  const size_t NR = GemmNR();
  for (size_t js = 0; js < nc; js += NR) {
    const size_t cols = std::min(NR, nc - js);
    const float* HWY_RESTRICT bp = bpack + js * kc;
    for (size_t is = 0; is < mc; is += kGemmMR) {
      const size_t rows = std::min(kGemmMR, mc - is);
      TileEpilogue tile_ep = ep;
      if (ep.row_bias != nullptr) tile_ep.row_bias = ep.row_bias + is;
      MicroKernelRows<kGemmMR, true>(1, kc, PackedA{apack + is * kc}, PackedB{bp},
                                     c + is * ldc + js, ldc, rows, cols, tile_ep);
    }
  }
}

// Sets the m x n matrix c (row stride ldc) to beta * c; beta == 0 writes zeros (ignores NaN).
inline void ScaleMatrix(size_t m, size_t n, float beta, float* HWY_RESTRICT c, size_t ldc) {
  const GemmD d;
  const size_t N = hn::Lanes(d);
  const auto vbeta = hn::Set(d, beta);
  for (size_t i = 0; i < m; ++i) {
    float* HWY_RESTRICT row = c + i * ldc;
    size_t j = 0;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
      continue;
    }
    for (; j + N <= n; j += N) hn::StoreU(hn::Mul(vbeta, hn::LoadU(d, row + j)), d, row + j);
    for (; j < n; ++j) row[j] *= beta;
  }
}

// Computes C = op(A) * op(B) + beta * C on the calling thread without packing A, and without
// packing B except strips that are transposed or narrower than NR (packed one at a time into a
// kc x NR buffer). The same K blocks, tiles and k order as SgemmImpl's packed path, so the same
// bits. Requires: m, n, k >= 1 (alpha is 1: PackA would fold any other alpha into A).
inline void SgemmInPlace(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, const float* a,
                         size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  const size_t NR = GemmNR();
  const size_t KC = GemmKC();
  for (size_t pc = 0; pc < k; pc += KC) {
    const size_t kc = std::min(KC, k - pc);
    const TileEpilogue ep{pc == 0 ? beta : 1.0f, nullptr, false};
    for (size_t js = 0; js < n; js += NR) {
      const size_t cols = std::min(NR, n - js);
      const bool rows_b = !trans_b && cols == NR;
      const float* strip = nullptr;
      if (!rows_b) {
        float* packed = detail::ThreadScratch(detail::GemmSlot::kStripB, kc * NR);
        PackB(trans_b, trans_b ? b + js * ldb + pc : b + pc * ldb + js, ldb, kc, cols, packed);
        strip = packed;
      }
      // The B strip (kc x NR floats, at most 32 KiB) stays in L1 while the rows of A stream.
      for (size_t is = 0; is < m; is += kGemmMR) {
        const size_t rows = std::min(kGemmMR, m - is);
        float* ct = c + is * ldc + js;
        const auto with_a = [&](auto areader) {
          if (rows_b) {
            MicroKernelRows<kGemmMR, false>(1, kc, areader, InPlaceRowsB{b + pc * ldb + js, ldb},
                                            ct, ldc, rows, cols, ep);
          } else {
            MicroKernelRows<kGemmMR, false>(1, kc, areader, PackedB{strip}, ct, ldc, rows, cols,
                                            ep);
          }
        };
        if (trans_a) {
          with_a(InPlaceA<true>{a + pc * lda + is, lda});
        } else {
          with_a(InPlaceA<false>{a + is * lda + pc, lda});
        }
      }
    }
  }
}

// Computes C = alpha * op(A) * op(B) + beta * C (the contract of simdnet::Sgemm in gemm.h).
// With alpha == 1 and a small A (kInPlaceMaxBlockFloats, kInPlaceMaxFloats), SgemmInPlace unless
// in_place is false (tests compare the two paths): on one thread, or on several as column
// slices of whole NR strips, one per thread.
// Work split: for each (NC, KC) panel of B, packed once and shared, tasks are MC-row blocks of C
// (times column slices when there are too few blocks for the threads). Each C element is summed
// in the same k order whatever the split, so results do not depend on the thread count.
inline void SgemmImpl(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha,
                      const float* a, size_t lda, const float* b, size_t ldb, float beta, float* c,
                      size_t ldc, ThreadPool& pool, bool in_place = true) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    ScaleMatrix(m, n, beta, c, ldc);
    return;
  }
  const size_t NR = GemmNR();
  const size_t KC = GemmKC();
  const size_t MC = GemmMC();
  const bool parallel = pool.NumThreads() > 1 && m * n * k >= detail::kMinParallelMacs;
  const size_t threads = parallel ? pool.NumThreads() : 1;
  // In place on one thread, or on column slices of whole NR strips, one per thread (same bits).
  const size_t slice = parallel ? detail::RoundUp(detail::DivCeil(n, threads), NR) : n;
  if (in_place && alpha == 1.0f && m * std::min(k, KC) <= detail::kInPlaceMaxBlockFloats &&
      m * k + k * slice <= detail::kInPlaceMaxFloats) {
    const size_t slices = detail::DivCeil(n, slice);
    if (slices == 1) {
      SgemmInPlace(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
      return;
    }
    pool.ParallelFor(slices, [&](uint64_t t, size_t) {
      const size_t j0 = t * slice, nj = std::min(slice, n - j0);
      SgemmInPlace(trans_a, trans_b, m, nj, k, a, lda, trans_b ? b + j0 * ldb : b + j0, ldb,
                   beta, c + j0, ldc);
    });
    return;
  }
  auto run = [&](uint64_t tasks, const std::function<void(uint64_t, size_t)>& fn) {
    if (parallel) {
      pool.ParallelFor(tasks, fn);
    } else {
      for (uint64_t t = 0; t < tasks; ++t) fn(t, 0);
    }
  };

  for (size_t jc = 0; jc < n; jc += kGemmNC) {
    const size_t nc = std::min(kGemmNC, n - jc);
    const size_t strips = detail::DivCeil(nc, NR);
    for (size_t pc = 0; pc < k; pc += KC) {
      const size_t kc = std::min(KC, k - pc);
      float* bpack = detail::ThreadScratch(detail::GemmSlot::kSharedB, strips * NR * kc);
      const float* bsrc = trans_b ? b + jc * ldb + pc : b + pc * ldb + jc;
      // Pack B in slices of whole strips, one per task.
      const size_t pack_tasks = std::min(strips, threads * 2);
      run(pack_tasks, [&](uint64_t t, size_t) {
        const size_t s0 = strips * t / pack_tasks, s1 = strips * (t + 1) / pack_tasks;
        const size_t j0 = s0 * NR, j1 = std::min(nc, s1 * NR);
        if (j1 <= j0) return;
        const float* src = trans_b ? bsrc + j0 * ldb : bsrc + j0;
        PackB(trans_b, src, ldb, kc, j1 - j0, bpack + j0 * kc);
      });

      const TileEpilogue ep{pc == 0 ? beta : 1.0f, nullptr, false};
      // Row blocks of at most MC rows, as many as a multiple of the thread count and of equal
      // size (7 blocks on 2 threads would leave one thread idle for a seventh of the time).
      size_t mblocks = detail::DivCeil(m, MC);
      if (threads > 1) {
        mblocks = std::min(detail::RoundUp(mblocks, threads), detail::DivCeil(m, kGemmMR));
      }
      const size_t mc_max = detail::RoundUp(detail::DivCeil(m, mblocks), kGemmMR);
      mblocks = detail::DivCeil(m, mc_max);
      // Too few row blocks: also split the columns, one slice per thread.
      const size_t nsplit = mblocks < threads ? std::min(strips, threads) : 1;
      run(mblocks * nsplit, [&](uint64_t t, size_t) {
        const size_t ib = t / nsplit, js = t % nsplit;
        const size_t i0 = ib * mc_max, mc = std::min(mc_max, m - i0);
        const size_t s0 = strips * js / nsplit, s1 = strips * (js + 1) / nsplit;
        const size_t j0 = s0 * NR, j1 = std::min(nc, s1 * NR);
        if (j1 <= j0) return;
        float* apack =
            detail::ThreadScratch(detail::GemmSlot::kPackA, detail::RoundUp(mc, kGemmMR) * kc);
        const float* asrc = trans_a ? a + pc * lda + i0 : a + i0 * lda + pc;
        PackA(trans_a, asrc, lda, mc, kc, alpha, apack);
        MacroKernel(mc, j1 - j0, kc, apack, bpack + j0 * kc, c + i0 * ldc + jc + j0, ldc, ep);
      });
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_TENSOR_GEMM_TOGGLE
