// Per-target Winograd convolution, F(2x2, 3x3) at stride 1 and 2 and F(4x4, 3x3) at stride 1:
// the transforms, the weight packing, the input transform shared with the weight gradient, and
// the forward pass.

// Non-SIMD part: included once per translation unit.
#ifndef SIMDNET_LAYERS_CONV_WINOGRAD_INL_H_
#define SIMDNET_LAYERS_CONV_WINOGRAD_INL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#endif  // SIMDNET_LAYERS_CONV_WINOGRAD_INL_H_

#if defined(SIMDNET_LAYERS_CONV_WINOGRAD_TOGGLE) == defined(HWY_TARGET_TOGGLE)
#ifdef SIMDNET_LAYERS_CONV_WINOGRAD_TOGGLE
#undef SIMDNET_LAYERS_CONV_WINOGRAD_TOGGLE
#else
#define SIMDNET_LAYERS_CONV_WINOGRAD_TOGGLE
#endif

#include "hwy/highway.h"
#include "layers/conv_common-inl.h"
#include "tensor/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Winograd transforms for 3x3 kernels, kM x kM output tiles, per dimension (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", CVPR 2016). kStride 1, kM 2 is F(2, 3): 4-pixel
// input patches every 2 pixels, 4 transform points. kStride 2 covers the stride-2 convolution
// y0 = w0 x0 + w1 x1 + w2 x2, y1 = w0 x2 + w1 x3 + w2 x4 with 5-pixel patches every 4 pixels:
// the even taps (w0, w2 on x0, x2, x4) are F(2, 2) (3 points) and the odd tap w1 is multiplied
// directly (2 points), 5 points for 6 multiplies. kStride 1, kM 4 is F(4, 3): 6-pixel patches
// every 4 pixels, points 0, +-1, +-2 and infinity. In 2D a tile costs kPoints multiplies
// instead of 9 kM^2 (stride 1: 2.25x fewer with kM 2, 4x with kM 4; stride 2: 1.44x fewer).
// The stride-2 transforms only add and subtract, so they round less than F(2, 3)'s halvings;
// F(4, 3)'s coefficients (up to 8 in A, 5 in B, 1/24 in G) round more (see conv2d_kernels_test).
template <size_t kStride, size_t kM = 2>
struct Winograd {
  static_assert(((kStride == 1 || kStride == 2) && kM == 2) || (kStride == 1 && kM == 4),
                "F(2, 3) at stride 1 or 2, F(4, 3) at stride 1");
  static constexpr size_t kP = kM == 4 ? 6 : (kStride == 1 ? 4 : 5);  // points per dimension
  static constexpr size_t kStep = kM * kStride;  // input pixels from one tile to the next
  static constexpr size_t kPoints = kP * kP;

  // Input transform B^T d of one patch row or column.
  template <class V>
  static HWY_INLINE void Input(const V* d, V* o) {
    if constexpr (kM == 4) {
      // B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
      //        0 4 0 -5 0 1]
      const hn::DFromV<V> df;
      const V two = hn::Set(df, 2.0f), four = hn::Set(df, 4.0f), five = hn::Set(df, 5.0f);
      const V d31 = hn::Sub(d[3], d[1]), d42 = hn::Sub(d[4], d[2]);
      o[0] = hn::MulAdd(four, d[0], hn::NegMulAdd(five, d[2], d[4]));
      o[1] = hn::NegMulAdd(four, hn::Add(d[1], d[2]), hn::Add(d[3], d[4]));
      o[2] = hn::MulAdd(four, hn::Sub(d[1], d[2]), hn::Sub(d[4], d[3]));
      o[3] = hn::MulAdd(two, d31, d42);
      o[4] = hn::NegMulAdd(two, d31, d42);
      o[5] = hn::MulAdd(four, d[1], hn::NegMulAdd(five, d[3], d[5]));
    } else if constexpr (kStride == 1) {  // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
      o[0] = hn::Sub(d[0], d[2]);
      o[1] = hn::Add(d[1], d[2]);
      o[2] = hn::Sub(d[2], d[1]);
      o[3] = hn::Sub(d[1], d[3]);
    } else {  // [x0 - x2, x2, x4 - x2, x1, x3]
      o[0] = hn::Sub(d[0], d[2]);
      o[1] = d[2];
      o[2] = hn::Sub(d[4], d[2]);
      o[3] = d[1];
      o[4] = d[3];
    }
  }
  // Output transform A^T m: the kM outputs from the kP points.
  template <class V>
  static HWY_INLINE void Output(const V* m, V* y) {
    if constexpr (kM == 4) {  // A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
      const hn::DFromV<V> df;
      const V s12 = hn::Add(m[1], m[2]), d12 = hn::Sub(m[1], m[2]);
      const V s34 = hn::Add(m[3], m[4]), d34 = hn::Sub(m[3], m[4]);
      y[0] = hn::Add(hn::Add(m[0], s12), s34);
      y[1] = hn::MulAdd(hn::Set(df, 2.0f), d34, d12);
      y[2] = hn::MulAdd(hn::Set(df, 4.0f), s34, s12);
      y[3] = hn::Add(hn::MulAdd(hn::Set(df, 8.0f), d34, d12), m[5]);
    } else if constexpr (kStride == 1) {  // A^T = [1 1 1 0; 0 1 -1 -1]
      y[0] = hn::Add(hn::Add(m[0], m[1]), m[2]);
      y[1] = hn::Sub(hn::Sub(m[1], m[2]), m[3]);
    } else {  // A^T = [1 1 0 1 0; 0 1 1 0 1]
      y[0] = hn::Add(hn::Add(m[0], m[1]), m[3]);
      y[1] = hn::Add(hn::Add(m[1], m[2]), m[4]);
    }
  }
  // Adjoint of Output, A y: the kP points of an output gradient pair.
  template <class V>
  static HWY_INLINE void OutputAdjoint(V y0, V y1, V* m) {
    static_assert(kM == 2, "F(4, 3) uses OutputAdjoint4");
    if constexpr (kStride == 1) {
      m[0] = y0;
      m[1] = hn::Add(y0, y1);
      m[2] = hn::Sub(y0, y1);
      m[3] = hn::Neg(y1);
    } else {
      m[0] = y0;
      m[1] = hn::Add(y0, y1);
      m[2] = y1;
      m[3] = y0;
      m[4] = y1;
    }
  }
  // Adjoint of Output for F(4, 3), A y: the 6 points of an output gradient run of 4.
  template <class V>
  static HWY_INLINE void OutputAdjoint4(const V* y, V* m) {
    static_assert(kM == 4, "F(4, 3)");
    const hn::DFromV<V> df;
    const V two = hn::Set(df, 2.0f), four = hn::Set(df, 4.0f);
    const V s02 = hn::Add(y[0], y[2]), s13 = hn::Add(y[1], y[3]);
    const V a = hn::MulAdd(four, y[2], y[0]), b = hn::MulAdd(four, y[3], y[1]);
    m[0] = y[0];
    m[1] = hn::Add(s02, s13);
    m[2] = hn::Sub(s02, s13);
    m[3] = hn::MulAdd(two, b, a);
    m[4] = hn::NegMulAdd(two, b, a);
    m[5] = y[3];
  }
  // A Y A^T of N tiles' 4x4 output gradients y[r * 4 + q] (F(4, 3)): stores point
  // xi = i * kP + l at dst + xi * stride.
  template <class D, class V>
  static HWY_INLINE void OutputAdjointTile4(D d, const V* y, float* HWY_RESTRICT dst,
                                            size_t stride) {
    V cols[4][kP];  // cols[q] = A (column q of Y)
    HWY_UNROLL(4)
    for (size_t q = 0; q < 4; ++q) {
      const V col[4] = {y[q], y[4 + q], y[8 + q], y[12 + q]};
      OutputAdjoint4(col, cols[q]);
    }
    HWY_UNROLL(6)
    for (size_t i = 0; i < kP; ++i) {
      const V row[4] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i]};
      V m[kP];
      OutputAdjoint4(row, m);
      HWY_UNROLL(6)
      for (size_t l = 0; l < kP; ++l) hn::StoreU(m[l], d, dst + (i * kP + l) * stride);
    }
  }
  // A Y A^T of N tiles' 2x2 output gradients (a b; c e): stores point xi = i * kP + l at
  // dst + xi * stride.
  template <class D, class V>
  static HWY_INLINE void OutputAdjoint2D(D d, V a, V b, V c, V e, float* HWY_RESTRICT dst,
                                         size_t stride) {
    V left[kP], right[kP];  // the rows of A Y (left column a, c; right column b, e)
    OutputAdjoint(a, c, left);
    OutputAdjoint(b, e, right);
    HWY_UNROLL(5)
    for (size_t i = 0; i < kP; ++i) {
      V m[kP];
      OutputAdjoint(left[i], right[i], m);
      HWY_UNROLL(5)
      for (size_t l = 0; l < kP; ++l) hn::StoreU(m[l], d, dst + (i * kP + l) * stride);
    }
  }
  // Adjoint of Input, B e: a patch row or column of the input gradient (stride 2 only; stride
  // 1's backward-data runs as a forward convolution).
  template <class V>
  static HWY_INLINE void InputAdjoint(const V* e, V* dx) {
    static_assert(kStride == 2 && kM == 2, "stride 1 uses the flipped forward");
    dx[0] = e[0];
    dx[1] = e[3];
    dx[2] = hn::Sub(hn::Sub(e[1], e[0]), e[2]);
    dx[3] = e[4];
    dx[4] = e[2];
  }
  // Weight transform G g of one kernel row or column.
  static void Weight(const float* g, size_t stride, float* u) {
    const float g0 = g[0], g1 = g[stride], g2 = g[2 * stride];
    if constexpr (kM == 4) {
      // G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
      const float q = 0.25f * g0 + g2, h = 0.5f * g1;
      u[0] = 0.25f * g0;
      u[1] = (-1.0f / 6.0f) * (g0 + g2 + g1);
      u[2] = (-1.0f / 6.0f) * (g0 + g2 - g1);
      u[3] = (1.0f / 6.0f) * (q + h);
      u[4] = (1.0f / 6.0f) * (q - h);
      u[5] = g2;
    } else if constexpr (kStride == 1) {  // G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
      u[0] = g0;
      u[1] = 0.5f * (g0 + g1 + g2);
      u[2] = 0.5f * (g0 - g1 + g2);
      u[3] = g2;
    } else {  // G = [1 0 0; 1 0 1; 0 0 1; 0 1 0; 0 1 0]
      u[0] = g0;
      u[1] = g0 + g2;
      u[2] = g2;
      u[3] = g1;
      u[4] = g1;
    }
  }
  // Weight on vectors (lanes = independent kernels), with Weight's operations in its order.
  template <class V>
  static HWY_INLINE void WeightVec(V g0, V g1, V g2, V* u) {
    if constexpr (kM == 4) {
      const hn::DFromV<V> df;
      const V quarter = hn::Set(df, 0.25f), sixth = hn::Set(df, 1.0f / 6.0f);
      const V neg_sixth = hn::Set(df, -1.0f / 6.0f);
      const V q = hn::Add(hn::Mul(quarter, g0), g2), h = hn::Mul(hn::Set(df, 0.5f), g1);
      const V g02 = hn::Add(g0, g2);
      u[0] = hn::Mul(quarter, g0);
      u[1] = hn::Mul(neg_sixth, hn::Add(g02, g1));
      u[2] = hn::Mul(neg_sixth, hn::Sub(g02, g1));
      u[3] = hn::Mul(sixth, hn::Add(q, h));
      u[4] = hn::Mul(sixth, hn::Sub(q, h));
      u[5] = g2;
    } else if constexpr (kStride == 1) {
      const V half = hn::Set(hn::DFromV<V>(), 0.5f);
      u[0] = g0;
      u[1] = hn::Mul(half, hn::Add(hn::Add(g0, g1), g2));
      u[2] = hn::Mul(half, hn::Add(hn::Sub(g0, g1), g2));
      u[3] = g2;
    } else {
      u[0] = g0;
      u[1] = hn::Add(g0, g2);
      u[2] = g2;
      u[3] = g1;
      u[4] = g1;
    }
  }
  // Adjoint of Weight, G^T u: a kernel row or column of the weight gradient (u[i * stride]).
  template <class V>
  static HWY_INLINE void WeightAdjoint(const V* u, size_t stride, V* g) {
    const V u0 = u[0], u1 = u[stride], u2 = u[2 * stride], u3 = u[3 * stride];
    if constexpr (kM == 4) {
      // G^T = [1/4 -1/6 -1/6 1/24 1/24 0; 0 -1/6 1/6 1/12 -1/12 0; 0 -1/6 -1/6 1/6 1/6 1]
      const hn::DFromV<V> df;
      const V quarter = hn::Set(df, 0.25f), sixth = hn::Set(df, 1.0f / 6.0f);
      const V u4 = u[4 * stride], u5 = u[5 * stride];
      const V s12 = hn::Add(u1, u2), s34 = hn::Add(u3, u4);
      g[0] = hn::MulAdd(quarter, u0, hn::Mul(sixth, hn::MulSub(quarter, s34, s12)));
      g[1] = hn::Mul(sixth, hn::MulAdd(hn::Set(df, 0.5f), hn::Sub(u3, u4), hn::Sub(u2, u1)));
      g[2] = hn::MulAdd(sixth, hn::Sub(s34, s12), u5);
    } else if constexpr (kStride == 1) {
      const V half = hn::Set(hn::DFromV<V>(), 0.5f);
      const V sum = hn::Mul(half, hn::Add(u1, u2));
      g[0] = hn::Add(u0, sum);
      g[1] = hn::Mul(half, hn::Sub(u1, u2));
      g[2] = hn::Add(sum, u3);
    } else {
      g[0] = hn::Add(u0, u1);
      g[1] = hn::Add(u3, u[4 * stride]);
      g[2] = hn::Add(u1, u2);
    }
  }
};

// Floats from one transform point's packed weights (rows x depth, rows rounded up to kGemmMR) to
// the next: an odd number of cache lines. The packing stores each kernel's kPoints values to
// kPoints matrices at once; 16 KiB apart (64 x 64 channels) they all mapped to one L1 set
// (vgg-small's training step: 0.5-1.2% faster, steps alternating in one process, Zen 5).
HWY_INLINE size_t WinogradWeightStride(size_t rows, size_t depth) {
  return PhasedLayout::ChannelStride(detail::RoundUp(rows, kGemmMR) * depth);
}

// Transforms 3x3 weights w (out_channels, cg, 3, 3) for Winograd<kStride, kM> and packs them for
// the GEMMs: U_xi = (G g G^T)[xi] per group and transform point xi as a kg x cg PackA matrix
// (KC blocks over c, kGemmMR-row strips over k) at wpack + (g * kPoints + xi) *
// WinogradWeightStride(kg, cg). With `transposed`, packs U_xi^T (cg x kg, for the backward-data
// GEMMs) at wpack + (g * kPoints + xi) * WinogradWeightStride(cg, kg) instead. Tasks are strips
// of kGemmMR rows.
template <size_t kStride, size_t kM = 2>
inline void WinogradPackWeights(const Conv2dShape& s, const float* w, bool transposed, float* wpack,
                                ThreadPool& pool, bool parallel) {
  using W = Winograd<kStride, kM>;
  constexpr size_t kP = W::kP, kPoints = W::kPoints;
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  // The packed matrix has `rows` rows (strips of MR) and `depth` columns (KC blocks).
  const size_t rows = transposed ? cg : kg, depth = transposed ? kg : cg;
  const size_t KC = GemmKC(), MR = kGemmMR;
  const size_t rrows = detail::RoundUp(rows, MR), strips = rrows / MR;
  const size_t pstride = WinogradWeightStride(rows, depth);
  detail::RunTasks(pool, parallel, s.groups * strips, [&](uint64_t task, size_t) {
    const size_t g = task / strips, r0 = (task % strips) * MR;
#if HWY_TARGET <= HWY_AVX2
    if constexpr (kGemmMR <= 8) {
      // One vector of 8 lanes per strip (lanes = the strip's rows, those past MR or `rows`
      // masked off): 9 gathers, the transform on vectors and kPoints stores of MR floats per
      // column e, instead of scalar code per element. (512 -> 512 channels, stride 1: the
      // scalar loop took as long as the Winograd GEMMs.)
      const hn::FixedTag<float, 8> d8;
      const hn::RebindToSigned<decltype(d8)> di8;
      using V8 = hn::Vec<decltype(d8)>;
      const size_t valid = std::min(MR, rows - r0);
      // Kernel (k, c) is at w + ((g * kg + k) * cg + c) * 9; row r is k (or c if transposed).
      const size_t row_stride = transposed ? 9 : cg * 9, e_stride = transposed ? cg * 9 : 9;
      const float* base = w + (g * kg * cg + (transposed ? r0 : r0 * cg)) * 9;
      HWY_ALIGN int32_t idx[8];
      for (size_t rr = 0; rr < 8; ++rr) {
        idx[rr] = static_cast<int32_t>(rr < valid ? rr * row_stride : 0);
      }
      const auto vidx = hn::Load(di8, idx);
      const auto ok = hn::FirstN(d8, valid);
      const auto mr_lanes = hn::FirstN(d8, MR);
      for (size_t e = 0; e < depth; ++e) {
        const size_t pc = e / KC * KC, kc = std::min(KC, depth - pc);
        float* HWY_RESTRICT dst =
            wpack + g * kPoints * pstride + pc * rrows + r0 * kc + (e - pc) * MR;
        const float* src = base + e * e_stride;
        V8 taps[9];
        for (size_t j = 0; j < 9; ++j) {
          taps[j] = hn::IfThenElseZero(ok, hn::GatherIndex(d8, src + j, vidx));
        }
        V8 t[3][kP];  // t[col][i] = (G g)[i][col]
        for (size_t col = 0; col < 3; ++col) {
          W::WeightVec(taps[col], taps[col + 3], taps[col + 6], t[col]);
        }
        for (size_t i = 0; i < kP; ++i) {
          V8 u[kP];  // (G g G^T)[i][l]
          W::WeightVec(t[0][i], t[1][i], t[2][i], u);
          for (size_t l = 0; l < kP; ++l) {
            float* HWY_RESTRICT out = dst + (i * kP + l) * pstride;
            if (MR == 8) {
              hn::StoreU(u[l], d8, out);
            } else {
              hn::BlendedStore(u[l], mr_lanes, d8, out);
            }
          }
        }
      }
      return;
    }
#endif
    for (size_t e = 0; e < depth; ++e) {
      const size_t pc = e / KC * KC, kc = std::min(KC, depth - pc);
      float* HWY_RESTRICT dst =
          wpack + g * kPoints * pstride + pc * rrows + r0 * kc + (e - pc) * MR;
      for (size_t rr = 0; rr < MR; ++rr) {
        const size_t r = r0 + rr;
        if (r >= rows) {
          for (size_t xi = 0; xi < kPoints; ++xi) dst[xi * pstride + rr] = 0.0f;
          continue;
        }
        const size_t k = transposed ? e : r, c = transposed ? r : e;
        const float* g9 = w + ((g * kg + k) * cg + c) * 9;
        float t[3][kP];  // t[col][i] = (G g)[i][col]
        for (size_t col = 0; col < 3; ++col) W::Weight(g9 + col, 3, t[col]);
        for (size_t i = 0; i < kP; ++i) {
          const float ti[3] = {t[0][i], t[1][i], t[2][i]};
          float u[kP];  // (G g G^T)[i][l]
          W::Weight(ti, 1, u);
          for (size_t l = 0; l < kP; ++l) dst[(i * kP + l) * pstride + rr] = u[l];
        }
      }
    }
  });
}

// Winograd<kStride, kM> input transform V = B^T d B of tiles [t0, t0 + ntr) of group g (tiles
// numbered globally over the batch, row major per image; tiles from t0 + nt on are zero), N
// tiles per vector. The input rows the tiles read are first copied zero-padded; then per
// channel and patch row i, the runs of tiles of each tile row are laid end to end in two
// staging rows, columns [0, kStep) of every patch and the same shifted by kStep, so that
// deinterleaving loads (2 lanes per tile for F(2, 3), 4 for the others) yield the kP x kP patch
// values of N consecutive tiles whatever the image width, without gathers. Transform point xi
// of channel c and tiles [t0 + j, t0 + j + N) is stored (unaligned) at out(c, j) + xi * xstride.
template <size_t kStride, size_t kM = 2, class Out>
HWY_INLINE void WinogradInputTransform(const Conv2dShape& s, const float* HWY_RESTRICT x, size_t g,
                                       size_t t0, size_t nt, size_t ntr, size_t xstride,
                                       const Out& out) {
  using W = Winograd<kStride, kM>;
  constexpr size_t kP = W::kP, kStep = W::kStep;
  const size_t cg = s.in_channels / s.groups, hw = s.in_h * s.in_w;
  const size_t tiles_h = detail::DivCeil(s.out_h(), kM);
  const size_t tiles_w = detail::DivCeil(s.out_w(), kM);
  const size_t tiles = tiles_h * tiles_w;
  const GemmD d;
  const size_t N = hn::Lanes(d);
  // Zero-padded planes of the rows the tiles read, per image: padded rows [row0, row0 + rmax)
  // of the wp columns the tiles read, plus slack for the vector copies' overrun.
  const size_t hp = kStep * tiles_h + kP - kStep, wp = kStep * tiles_w + kP - kStep;
  const size_t n_first = t0 / tiles, n_last = (t0 + nt - 1) / tiles;
  const size_t images = n_last - n_first + 1;
  size_t rmax = 0;
  auto image_rows = [&](size_t n, size_t* first, size_t* count) {
    const size_t ta = std::max(t0, n * tiles), tb = std::min(t0 + nt, (n + 1) * tiles);
    const size_t tr_a = (ta - n * tiles) / tiles_w, tr_b = (tb - 1 - n * tiles) / tiles_w;
    *first = kStep * tr_a;
    *count = std::min(hp, kStep * tr_b + kP) - kStep * tr_a;
  };
  for (size_t n = n_first; n <= n_last; ++n) {
    size_t first, count;
    image_rows(n, &first, &count);
    rmax = std::max(rmax, count);
  }
  const size_t pstride = PhasedLayout::ChannelStride(rmax * wp);
  const size_t slack = 2 * N + 2 * kStep;
  const size_t planes_end = images * cg * pstride;
  // Input columns the tiles read (at stride 2 the padded row can be wider than wp).
  const size_t copy_w = std::min(s.in_w, wp - std::min(wp, s.pad_w));
  float* planes = ConvScratch(ConvSlot::kPlanes, planes_end + slack);
  for (size_t n = n_first; n <= n_last; ++n) {
    size_t first, count;
    image_rows(n, &first, &count);
    for (size_t c = 0; c < cg; ++c) {
      const float* HWY_RESTRICT xc = x + (n * s.in_channels + g * cg + c) * hw;
      // Padded row r of the image is at base + (r - first) * wp.
      float* HWY_RESTRICT base = planes + ((n - n_first) * cg + c) * pstride;
      for (size_t r = first; r < first + count; ++r) {
        float* HWY_RESTRICT row = base + (r - first) * wp;
        const long ih = static_cast<long>(r) - static_cast<long>(s.pad_h);
        if (ih < 0 || ih >= static_cast<long>(s.in_h) || copy_w == 0) {
          ZeroRow(wp, row);
          continue;
        }
        ZeroRow(s.pad_w, row);
        CopyRow(xc + ih * s.in_w, copy_w, row + s.pad_w);
        ZeroRow(wp - s.pad_w - copy_w, row + s.pad_w + copy_w);
      }
      ZeroRow(pstride - count * wp, base + count * wp);
    }
  }
  std::fill(planes + planes_end, planes + planes_end + slack, 0.0f);
  // Staging row i: columns [0, kStep) of patch row i; row kP + i: columns [kStep, 2 kStep).
  const size_t rl = kStep * ntr + N;
  float* rows = ConvScratch(ConvSlot::kRows, 2 * kP * rl);
  using V = hn::Vec<GemmD>;
  for (size_t c = 0; c < cg; ++c) {
    for (size_t t = t0; t < t0 + nt;) {
      const size_t n = t / tiles, tr = (t % tiles) / tiles_w, tc0 = t % tiles_w;
      const size_t cnt = std::min(tiles_w - tc0, t0 + nt - t), j = t - t0;
      size_t first, count;
      image_rows(n, &first, &count);
      const float* HWY_RESTRICT pl = planes + ((n - n_first) * cg + c) * pstride +
                                     (kStep * tr - first) * wp + kStep * tc0;
      for (size_t i = 0; i < kP; ++i) {
        const float* HWY_RESTRICT src = pl + i * wp;
        float* HWY_RESTRICT lo = rows + i * rl + kStep * j;
        float* HWY_RESTRICT hi = rows + (kP + i) * rl + kStep * j;
        // Whole vectors: the overrun is overwritten by the next run or lands in the slack.
        for (size_t m = 0; m < kStep * cnt; m += N) {
          hn::StoreU(hn::LoadU(d, src + m), d, lo + m);
          hn::StoreU(hn::LoadU(d, src + kStep + m), d, hi + m);
        }
      }
      t += cnt;
    }
    if (ntr > nt) {
      for (size_t i = 0; i < 2 * kP; ++i) {
        std::fill(rows + i * rl + kStep * nt, rows + i * rl + kStep * ntr, 0.0f);
      }
    }
    for (size_t j = 0; j < ntr; j += N) {
      // B^T d B: each patch row is loaded and transformed (d B), then each column (B^T),
      // which keeps about kPoints vectors live.
      V t[kP][kP];  // t[i][l] = (d B)[i][l]
      HWY_UNROLL(6)
      for (size_t i = 0; i < kP; ++i) {
        const float* HWY_RESTRICT lo = rows + i * rl + kStep * j;
        const float* HWY_RESTRICT hi = rows + (kP + i) * rl + kStep * j;
        V dd[2 * kStep];  // the first kP are the patch row
        if constexpr (kStep == 2) {
          hn::LoadInterleaved2(d, lo, dd[0], dd[1]);
          hn::LoadInterleaved2(d, hi, dd[2], dd[3]);
        } else {
          hn::LoadInterleaved4(d, lo, dd[0], dd[1], dd[2], dd[3]);
          hn::LoadInterleaved4(d, hi, dd[4], dd[5], dd[6], dd[7]);
        }
        W::Input(dd, t[i]);
      }
      float* HWY_RESTRICT dst = out(c, j);
      HWY_UNROLL(6)
      for (size_t l = 0; l < kP; ++l) {
        V col[kP], v[kP];
        HWY_UNROLL(6)
        for (size_t i = 0; i < kP; ++i) col[i] = t[i][l];
        W::Input(col, v);
        HWY_UNROLL(6)
        for (size_t i = 0; i < kP; ++i) hn::StoreU(v[i], d, dst + (i * kP + l) * xstride);
      }
    }
  }
}

// Most tiles per forward Winograd task (and per stride-2 backward-data step); a multiple of
// every target's NR. The 1 MiB bound of WinogradTileChunks decides when it is lower: for
// F(4x4) (36 points) from 64 x 64 channels up, for F(2x2) (16 points) from 128 x 128. A cap of
// 64 (measured on Zen 4: 64 beat 128 for 64-128 channels on 2 threads, where two threads share
// the L3) cut vgg-small's 32-channel F(4x4) layers to 64 tiles; 128 lets them take 96-128 and
// gave its training step 0.2-1.8% more speed (Zen 5, steps alternating in one process, 4 runs).
// On Zen 5 the F(2x2) layers it also changes ran the same or up to 3% faster (conv2d_bench,
// 32 and 64 channels on 10x10 and 5x5, batch 64); Zen 4 was not measured again.
constexpr size_t kMaxWinogradChunk = 128;
// Most tiles per task when the transformed weights are large (WinogradTileChunks).
constexpr size_t kMaxWinogradWideChunk = 256;

// How the forward Winograd splits the `total` tiles of a group into tasks: chunk i holds tiles
// [Begin(i), End(i)), at most `max` of them, and starts at a multiple of NR.
struct WinogradTileChunks {
  // Every task reads all the transformed weights (kPoints * cg * kg floats) and its tiles'
  // transformed input and GEMM results (kPoints * (cg + kg) floats per tile). The tiles' data
  // is kept within about 1 MiB (L2) and kMaxWinogradChunk tiles, unless that makes the weights
  // cost more than the tiles: then a task takes cg * kg / (cg + kg) tiles (up to
  // kMaxWinogradWideChunk), in chunks of whole NR strips, as many as a multiple of the threads.
  // (512 -> 512 channels on 7x7 outputs, batch 16: 8 tasks of 32 tiles read the 16 MiB of
  // weights 8 times; now 2 tasks of 128 tiles.)
  WinogradTileChunks(size_t points, size_t cg, size_t kg, size_t total, size_t nr, size_t threads)
      : total_(total), nr_(nr) {
    const size_t l2_tiles =
        std::min(kMaxWinogradChunk, std::max(nr, (size_t{1} << 18) / (points * (cg + kg))));
    const size_t wide_tiles = std::min(kMaxWinogradWideChunk, cg * kg / (cg + kg));
    if (wide_tiles <= l2_tiles) {
      step_ = detail::RoundUp(l2_tiles, nr);
      count_ = detail::DivCeil(total, step_);
      max_ = step_;
      return;
    }
    strips_ = detail::DivCeil(total, nr);
    count_ = detail::DivCeil(strips_, detail::DivCeil(wide_tiles, nr));
    count_ = std::min(strips_, detail::RoundUp(count_, std::max<size_t>(threads, 1)));
    max_ = detail::DivCeil(strips_, count_) * nr;
  }
  size_t Count() const { return count_; }
  size_t Max() const { return max_; }
  size_t Begin(size_t i) const {
    return step_ != 0 ? i * step_ : std::min(total_, strips_ * i / count_ * nr_);
  }
  size_t End(size_t i) const {
    return step_ != 0 ? std::min(total_, (i + 1) * step_)
                      : std::min(total_, strips_ * (i + 1) / count_ * nr_);
  }

 private:
  size_t total_, nr_, step_ = 0, strips_ = 0, count_ = 0, max_ = 0;
};

// Winograd<kStride, kM> forward for 3x3 kernels with no dilation: each kM x kM output tile is
// A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A over its kP x kP input patch d, i.e. kPoints
// independent GEMMs (one per transform point xi) of U_xi (kg x cg) by V_xi (cg x tiles): 16
// (F(2, 3)) or 25 (stride 2) multiplies per 4 outputs, or 36 per 16 (F(4, 3)), instead of 36
// per 4 (GFLOPS are still reported for the direct count). Tiles of all images are numbered
// globally, so small images still fill whole NR-wide panels. F(2, 3)'s transforms only
// add/subtract and halve, so its rounding error stays a small multiple of the direct method's;
// F(4, 3)'s is larger (see conv2d_kernels_test).
template <size_t kStride, size_t kM = 2>
inline void ConvForwardWinograd(const Conv2dShape& s, const float* x, const float* w,
                                const float* bias, float* y, bool relu, ThreadPool& pool) {
  using W = Winograd<kStride, kM>;
  constexpr size_t kP = W::kP, kPoints = W::kPoints;
  const detail::ConvGeom geo(s);
  const size_t NR = GemmNR(), KC = GemmKC(), MC = GemmMC();
  const size_t cg = geo.cg, kg = geo.kg;
  const size_t tiles_h = detail::DivCeil(geo.oh, kM), tiles_w = detail::DivCeil(geo.ow, kM);
  const size_t tiles = tiles_h * tiles_w, total = s.batch * tiles;
  const size_t rkg = detail::RoundUp(kg, kGemmMR);
  const bool parallel = detail::ConvParallel(s, pool);
  const size_t wstride = WinogradWeightStride(kg, cg);
  float* wpack = ConvScratch(ConvSlot::kWeights, s.groups * kPoints * wstride);
  WinogradPackWeights<kStride, kM>(s, w, false, wpack, pool, parallel);
  // Tasks: (group, chunk of global tiles); see WinogradTileChunks.
  const WinogradTileChunks split(kPoints, cg, kg, total, NR, parallel ? pool.NumThreads() : 1);
  const size_t chunks = split.Count();
  detail::RunTasks(pool, parallel, s.groups * chunks, [&](uint64_t task, size_t) {
    const size_t g = task / chunks, t0 = split.Begin(task % chunks);
    const size_t nt = split.End(task % chunks) - t0, ntr = detail::RoundUp(nt, NR);
    if (nt == 0) return;
    // V_xi in PackB layout (KC blocks over c, NR-tile strips), then M_xi = U_xi V_xi.
    // Odd cache-line counts between the points' matrices: the transforms touch all points of
    // a few tiles, which would otherwise map to one L1 set (cg * ntr floats = 16 KiB and more).
    const size_t bstride = PhasedLayout::ChannelStride(cg * ntr);
    const size_t mstride = PhasedLayout::ChannelStride(kg * ntr);
    float* bbuf = ConvScratch(ConvSlot::kPackB, kPoints * bstride);
    float* mbuf = ConvScratch(ConvSlot::kAcc, kPoints * mstride);
    WinogradInputTransform<kStride, kM>(s, x, g, t0, nt, ntr, bstride, [&](size_t c, size_t j) {
      const size_t pc = c / KC * KC, kcb = std::min(KC, cg - pc);
      return bbuf + pc * ntr + (j / NR) * NR * kcb + (c - pc) * NR + j % NR;
    });
    for (size_t xi = 0; xi < kPoints; ++xi) {
      for (size_t pc = 0; pc < cg; pc += KC) {
        const size_t kc = std::min(KC, cg - pc);
        const TileEpilogue ep{pc == 0 ? 0.0f : 1.0f, nullptr, false};
        for (size_t ic = 0; ic < kg; ic += MC) {
          const size_t mc = std::min(MC, kg - ic);
          MacroKernel(mc, nt, kc, wpack + (g * kPoints + xi) * wstride + pc * rkg + ic * kc,
                      bbuf + xi * bstride + pc * ntr, mbuf + xi * mstride + ic * ntr, ntr, ep);
        }
      }
    }
    const GemmD d;
    const size_t N = hn::Lanes(d);
    // Y = A^T M A, N tiles at a time, plus bias and ReLU.
    // The kM output rows of consecutive tiles are interleaved (StoreInterleaved2 / 4) into kM
    // buffer rows, then each run of tiles in one tile row is copied to its pixels with vector
    // stores (masked at the end; output sizes that are not multiples of kM clip the last
    // columns / rows).
    struct OutRun {
      size_t j, cols, off;  // first tile in the chunk, output columns, offset in y sans k
      size_t rows;          // output rows of the tile row that exist (<= kM)
    };
    OutRun runs[kMaxWinogradWideChunk];
    size_t num_runs = 0;
    for (size_t t = t0; t < t0 + nt;) {
      const size_t n = t / tiles, tr = (t % tiles) / tiles_w, tc0 = t % tiles_w;
      const size_t cnt = std::min(tiles_w - tc0, t0 + nt - t);
      runs[num_runs++] = {t - t0, std::min(kM * cnt, geo.ow - kM * tc0),
                          (n * s.out_channels + g * kg) * geo.p + kM * tr * geo.ow + kM * tc0,
                          std::min(kM, geo.oh - kM * tr)};
      t += cnt;
    }
    const size_t row_len = kM * ntr + kM * N;
    float* out_rows = ConvScratch(ConvSlot::kRows, kM * row_len);
    for (size_t k = 0; k < kg; ++k) {
      const auto vb = hn::Set(d, bias != nullptr ? bias[g * kg + k] : 0.0f);
      const float* HWY_RESTRICT mk = mbuf + k * ntr;
      for (size_t j = 0; j < nt; j += N) {
        hn::Vec<GemmD> t[kM][kP];  // t[r][l] = (A^T M)[r][l]
        HWY_UNROLL(6)
        for (size_t l = 0; l < kP; ++l) {
          hn::Vec<GemmD> m[kP], tl[kM];
          HWY_UNROLL(6)
          for (size_t i = 0; i < kP; ++i) m[i] = hn::LoadU(d, mk + (i * kP + l) * mstride + j);
          W::Output(m, tl);
          HWY_UNROLL(4)
          for (size_t r = 0; r < kM; ++r) t[r][l] = tl[r];
        }
        HWY_UNROLL(4)
        for (size_t r = 0; r < kM; ++r) {
          hn::Vec<GemmD> yv[kM];
          W::Output(t[r], yv);
          HWY_UNROLL(4)
          for (size_t q = 0; q < kM; ++q) {
            yv[q] = hn::Add(yv[q], vb);
            if (relu) yv[q] = hn::Max(yv[q], hn::Zero(d));
          }
          float* HWY_RESTRICT dst = out_rows + r * row_len + kM * j;
          if constexpr (kM == 2) {
            hn::StoreInterleaved2(yv[0], yv[1], d, dst);
          } else {
            hn::StoreInterleaved4(yv[0], yv[1], yv[2], yv[3], d, dst);
          }
        }
      }
      for (size_t ri = 0; ri < num_runs; ++ri) {
        const OutRun& run = runs[ri];
        float* HWY_RESTRICT dst = y + run.off + k * geo.p;
        for (size_t r = 0; r < run.rows; ++r) {
          CopyRowPadded(out_rows + r * row_len + kM * run.j, run.cols, dst + r * geo.ow);
        }
      }
    }
  });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#endif  // SIMDNET_LAYERS_CONV_WINOGRAD_TOGGLE
